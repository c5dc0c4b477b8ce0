"""What the comparison tools (tools.compare_tricks, tools.compare_recipe) share: where they write, the
seeds, the scored split, the folds they train and monitor on, and CPU-sized runs by default.

Importing this module defines the flags and adopts the trainer's (they pass through to every run).
"""

import dataclasses

from absl import flags

from cnmc.cli import fold_runs
from cnmc.storage import paths
from trainer import flags as trainer_flags
from trainer.config import TrainConfig, default_folder, flag_text, names_where, values_of

flags.adopt_module_key_flags(trainer_flags)  # the tools adopt this module's: --help lists the trainer's too

COMPARE_DIR = flags.DEFINE_string("compare_dir", None, "Where the runs and the summary go; default "
                                  "runs/<tool>-<dataset>-<backbone>.")
SEEDS = flags.DEFINE_list("seeds", ["1", "2", "3"], "One comparison per seed; the table shows mean ± sd.")
flags.register_validator("seeds", lambda seeds: bool(seeds) and all(seed.isdigit() for seed in seeds),
                         "must list one or more non-negative whole numbers, e.g. 1,2,3")
SCORE_SPLIT = flags.DEFINE_string("score_split", "validation", "The subject-disjoint split every method is scored on.")
CPU_SIZED_HELP = ("Trainer flags not given (nor set by --quick) take the CPU-sized values: " + ", ".join(
    f"--{name}={flag_text(name, value)}" for name, value in values_of("cpu_sized").items()) + ".")

TRAIN, TUNE = ("fold_0", "fold_1"), "fold_2"  # every run trains on TRAIN and is monitored on TUNE


def base_config(set_here: tuple[str, ...] = ()) -> TrainConfig:
  """The settings every run starts from: the trainer flags given, the CPU-sized values for the rest (but those
  --quick sets, when it is given), no SavedModel. The trainer flags the tool sets per run (the splits, the folder,
  the seed and set_here) are refused."""
  fold_runs.refuse_given((*names_where("per_seed"), *set_here))
  return dataclasses.replace(trainer_flags.config_from_flags(defaults=values_of("cpu_sized")), saved_model=False)


def run_config(base: TrainConfig, run_dir: str, **changes) -> TrainConfig:
  """One run's settings: base trained on TRAIN, monitored on TUNE, in run_dir, with changes."""
  return dataclasses.replace(base, train_splits=TRAIN, val_split=TUNE, model_dir=run_dir, **changes)


def compare_dir(tool: str, config: TrainConfig) -> str:
  """--compare_dir, or runs/<tool>-<dataset>-<backbone>."""
  return paths.expand_path(COMPARE_DIR.value) or default_folder(config, tool)


def seeds() -> list[int]:
  return [int(seed) for seed in SEEDS.value]
