"""Train a C-NMC 2019 ALL-vs-HEM classifier.

  python -m trainer --backbone=effnetb3                      # synthetic data, ImageNet weights
  python -m trainer --dataset=cnmc/real --manual_dir=~/cnmc-download --backbone=inception_resnet_v2
  python -m trainer --quick --weights=none                   # a smoke run in a minute on a CPU
"""

import os
import sys

from absl import app, flags

from trainer import cluster, flags as trainer_flags, run_dir
from trainer.errors import TrainerError

flags.adopt_module_key_flags(trainer_flags)  # --help lists the trainer's flags, not only --helpfull


def main(argv):
  try:
    if len(argv) > 1:
      raise TrainerError(f"Unexpected arguments: {' '.join(argv[1:])} (flags start with --).")
    config = trainer_flags.config_from_flags()
    run_dir.preflight(config)  # a wrong folder, flag or cluster fails before TensorFlow takes seconds to start
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow C++ log: warnings and errors only
    from trainer.train import run  # after flag parsing: importing TensorFlow is slow
    run(config)
  except app.UsageError as error:  # TrainerError, DatasetError: the message alone, not the usage text
    _fail(str(error))
  except OSError as error:  # a full disk, a folder without permission: the file and the reason
    _fail(f"{error.strerror or error}{f': {error.filename}' if error.filename else ''}")


def _fail(message: str) -> None:
  print(f"error: {message}", file=sys.stderr, flush=True)
  if "tensorflow" in sys.modules and cluster.detect("auto") is not None:
    # In a multi-worker job TensorFlow's coordination agent would wait at exit for peers that may be
    # gone, and log its own errors after this message: leave now.
    sys.stdout.flush()
    os._exit(1)
  sys.exit(1)


if __name__ == "__main__":
  app.run(main)
