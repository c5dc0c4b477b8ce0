"""Flags shared by evaluate, predict and gradcam: which model, which data, where the results go
(the ways of scoring that gradcam cannot use are in cnmc/cli/scoring_flags.py).

(Not importable beside trainer.flags: both define --dataset, --data_dir and --batch_size.)
"""

import os

from absl import flags

from cnmc.run_folder import layout
from cnmc.storage import paths

MODEL = flags.DEFINE_multi_string("model", [], "A trained model file (.keras), e.g. runs/x/best.keras; repeat "
                                  "the flag (and/or --model_dir) for an ensemble.")
MODEL_DIR = flags.DEFINE_multi_string("model_dir", [], "A `python -m trainer` run directory: its best.keras (else "
                                      "model.keras) is used; repeat for an ensemble (members: the --model files "
                                      "first, then the --model_dir runs).")
DATASET = flags.DEFINE_string("dataset", None,
                              "TFDS name/config to read, e.g. cnmc/real; default: the dataset the model was "
                              "trained on (from the run's config.json), else cnmc/synthetic.")
DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data folder for --dataset (default: TFDS_DATA_DIR or "
                               "~/tensorflow_datasets).")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Images per prediction batch (x8 with --tta).", lower_bound=1)
OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where the results go; default: a folder beside the model. "
                                 "An earlier result of the same tool there is replaced; any other folder with "
                                 "files in it is refused.")
THRESHOLD = flags.DEFINE_float("threshold", 0.5, "A cell is called ALL when P(ALL) >= this.",
                               lower_bound=0.0, upper_bound=1.0)


def model_arguments() -> tuple[list[str], list[str]]:
  """(every --model, every --model_dir) with ~ and $VARS expanded."""
  return [paths.expand_path(m) for m in MODEL.value], [paths.expand_path(d) for d in MODEL_DIR.value]


def single_model_arguments(tool: str) -> tuple[str | None, str | None]:
  """(--model, --model_dir) for a tool that explains one model; an ensemble is refused."""
  from cnmc.evaluation.errors import EvaluationError
  models, model_dirs = model_arguments()
  if len(models) + len(model_dirs) > 1:
    raise EvaluationError(f"{tool} explains one model: pass one --model or one --model_dir.")
  return (models or [None])[0], (model_dirs or [None])[0]


def dataset_arguments() -> tuple[str | None, str | None]:
  """(--dataset, --data_dir) with ~ and $VARS expanded."""
  return paths.expand_path(DATASET.value), paths.expand_path(DATA_DIR.value)


def output_dir(model_path: str, name: str, tool: str) -> str:
  """--output_dir (default <model's folder>/<name>), refused before any work if writing it would delete
  something the tool did not make: the model, its run folder, the working directory, foreign files."""
  from cnmc.evaluation.errors import EvaluationError
  from cnmc.storage import result_dirs
  path = paths.expand_path(OUTPUT_DIR.value) or os.path.join(os.path.dirname(os.path.abspath(model_path)), name)
  run_dir = os.path.dirname(os.path.abspath(model_path))
  protected = {"the model": model_path,
               "its training run": run_dir if os.path.exists(os.path.join(run_dir, layout.CONFIG)) else None}
  try:
    return result_dirs.check_result_dir(path, tool, protected)
  except result_dirs.UnsafeResultDir as error:
    raise EvaluationError(str(error)) from None
