"""How every tool starts and ends: absl flags, then a user's mistake as one line and exit status 1."""

import os
import sys
from collections.abc import Callable

from absl import app

from storage import paths


def fail(message: str) -> None:
  """Prints `error: <message>` on stderr and exits with status 1 (no traceback)."""
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(1)


def require_writable(flag: str, folder: str) -> None:
  """Fails early, naming the flag, if `folder` cannot be made or written in."""
  problem = paths.writable_dir_problem(folder)
  if problem:
    fail(f"{flag}={folder}: cannot write there ({problem}).")


def share_gpu_memory() -> None:
  """Lets TensorFlow take GPU memory as it needs it instead of all of it at once.

  The tools run next to training processes: cross-validation scores each fold in this process
  between fold trainers it starts, and people evaluate a checkpoint while a run trains. Without
  this, the first of them to touch the GPU holds nearly all its memory and the next runs out.
  """
  import tensorflow as tf
  for gpu in tf.config.list_physical_devices("GPU"):
    tf.config.experimental.set_memory_growth(gpu, True)


def run(main: Callable[..., object], pass_arguments: bool = False, uses_tensorflow: bool = True) -> None:
  """`absl.app.run` for a tool whose `main()` takes no arguments (or, with pass_arguments, the
  command line's arguments after the flags, e.g. what follows `--`). A tool that uses TensorFlow
  shares the GPU's memory (share_gpu_memory) from its start.

  Leftover positional arguments (unless passed), and every user error (the project's errors are absl UsageErrors:
  DatasetError, TrainerError, EvaluationError) or OSError (a full disk, a folder without
  permission), end the process with one line on stderr and exit status 1.
  """
  def absl_main(argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow C++ log: warnings and errors only
    if len(argv) > 1 and not pass_arguments:
      fail(f"Unexpected arguments: {' '.join(argv[1:])} (flags start with --).")
    try:
      if uses_tensorflow:
        share_gpu_memory()
      main(argv[1:]) if pass_arguments else main()
    except app.UsageError as error:
      fail(str(error))
    except OSError as error:
      fail(f"{error.strerror or error}{f': {error.filename}' if error.filename else ''}")
  app.run(absl_main)
