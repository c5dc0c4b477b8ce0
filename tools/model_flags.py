"""Flags shared by evaluate, predict and gradcam: which model, which data, where the results go.

(Not importable beside trainer.flags: both define --dataset, --data_dir and --batch_size.)
"""

import os

from absl import flags

MODEL = flags.DEFINE_string("model", None, "A trained model file (.keras), e.g. runs/x/best.keras.")
MODEL_DIR = flags.DEFINE_string("model_dir", None,
                                "A `python -m trainer` run directory: its best.keras (else model.keras) is used.")
DATASET = flags.DEFINE_string("dataset", None,
                              "TFDS name/config to read, e.g. cnmc/real; default: the dataset the model was "
                              "trained on (from the run's config.json), else cnmc/synthetic.")
DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data folder for --dataset (default: TFDS_DATA_DIR or "
                               "~/tensorflow_datasets).")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Images per prediction batch (x8 with --tta).", lower_bound=1)
OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where the results go (replaced if it exists); "
                                 "default: a folder beside the model.")
TTA = flags.DEFINE_bool("tta", False, "Test-time augmentation: average the 8 rotations/mirrors of each cell.")
THRESHOLD = flags.DEFINE_float("threshold", 0.5, "A cell is called ALL when P(ALL) >= this.",
                               lower_bound=0.0, upper_bound=1.0)


def default_output_dir(model_path: str, name: str) -> str:
  return OUTPUT_DIR.value or os.path.join(os.path.dirname(os.path.abspath(model_path)), name)
