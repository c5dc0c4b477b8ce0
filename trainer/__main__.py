"""Train a C-NMC 2019 ALL-vs-HEM classifier.

  python -m trainer --backbone=effnetb3                      # synthetic data, ImageNet weights
  python -m trainer --dataset=cnmc/real --manual_dir=~/cnmc-download --backbone=inception_resnet_v2
  python -m trainer --quick --weights=none                   # a smoke run in a minute on a CPU
"""

import sys

from absl import flags

from cnmc.console import exits, quiet
from trainer import flags as trainer_flags, run_dir
from trainer.errors import TrainerError

flags.adopt_module_key_flags(trainer_flags)  # --help lists the trainer's flags, not only --helpfull


def main(arguments: list[str]) -> None:
  if arguments:
    raise TrainerError(f"Unexpected arguments: {' '.join(arguments)} (flags start with --).")
  config = trainer_flags.config_from_flags()
  setup = run_dir.preflight(config)  # a wrong folder, flag or cluster fails before TensorFlow takes seconds to start
  # In a multi-worker job TensorFlow's coordination agent would wait at exit for peers that may be gone.
  exits.exit_hard_when(lambda: setup.role is not None and "tensorflow" in sys.modules)
  quiet.import_tensorflow()  # after the preflight: it takes seconds
  from trainer.train import run
  run(config, setup=setup)


def describe_data_loss(error: Exception) -> str:
  from cnmc_tfds import integrity  # imports TensorFlow: only once it has run
  return integrity.describe_data_loss(error)


if __name__ == "__main__":
  exits.run(main, on_data_loss=describe_data_loss)
