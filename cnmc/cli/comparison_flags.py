"""What the comparison tools (tools.compare_tricks, tools.compare_recipe) share: where they write, the
seeds, the scored split, the folds they train and monitor on, and CPU-sized runs by default.

Importing this module defines the flags and adopts the trainer's (they pass through to every run).
"""

import os

from absl import flags

from cnmc.cli import fold_runs
from cnmc.storage import paths
from trainer import flags as trainer_flags
from trainer.config import TrainConfig, dataset_label

flags.adopt_module_key_flags(trainer_flags)  # the tools adopt this module's: --help lists the trainer's too

COMPARE_DIR = flags.DEFINE_string("compare_dir", None, "Where the runs and the summary go; default "
                                  "runs/<tool>-<dataset>-<backbone>.")
SEEDS = flags.DEFINE_list("seeds", ["1", "2", "3"], "One comparison per seed; the table shows mean ± sd.")
flags.register_validator("seeds", lambda seeds: bool(seeds) and all(seed.isdigit() for seed in seeds),
                         "must list one or more non-negative whole numbers, e.g. 1,2,3")
SCORE_SPLIT = flags.DEFINE_string("score_split", "validation", "The subject-disjoint split every method is scored on.")

TRAIN, TUNE = ("fold_0", "fold_1"), "fold_2"  # every run trains on TRAIN and is monitored on TUNE
# What the runs are without trainer flags: minutes each on a CPU.
CPU_SIZED = {"backbone": "small_cnn", "weights": "none", "image_size": "64", "batch_size": "16", "epochs": "20",
             "steps_per_epoch": "20", "profile_steps": "0,0"}

for _name, _value in CPU_SIZED.items():
  flags.FLAGS.set_default(_name, flags.FLAGS[_name].parser.parse(_value))  # --help shows what the runs use


def trainer_arguments(also_set_here: tuple[str, ...]) -> list[str]:
  """The trainer flags of every run: those given, and the CPU-sized settings for the rest (but those
  --quick sets, when it is given); also_set_here are the tool's own per run, and refused."""
  quick = trainer_flags.QUICK if flags.FLAGS.quick else {}
  for name, value in CPU_SIZED.items():
    if not flags.FLAGS[name].present and name not in quick:
      flags.FLAGS[name].parse(value)  # now given, as far as the runs and config_from_flags are concerned
  return fold_runs.passthrough_flags(also_set_here=also_set_here) + ["--nosaved_model"]


def compare_dir(tool: str, config: TrainConfig) -> str:
  """--compare_dir, or runs/<tool>-<dataset>-<backbone>."""
  return (paths.expand_path(COMPARE_DIR.value)
          or os.path.join("runs", f"{tool}-{dataset_label(config.dataset)}-{config.backbone}"))


def seeds() -> list[int]:
  return [int(seed) for seed in SEEDS.value]
