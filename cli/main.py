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


def run(main: Callable[[], object]) -> None:
  """`absl.app.run` for a tool whose `main()` takes no arguments.

  Leftover positional arguments, and every user error (the project's errors are absl UsageErrors:
  DatasetError, TrainerError, EvaluationError) or OSError (a full disk, a folder without
  permission), end the process with one line on stderr and exit status 1.
  """
  def absl_main(argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow C++ log: warnings and errors only
    if len(argv) > 1:
      fail(f"Unexpected arguments: {' '.join(argv[1:])} (flags start with --).")
    try:
      main()
    except app.UsageError as error:
      fail(str(error))
    except OSError as error:
      fail(f"{error.strerror or error}{f': {error.filename}' if error.filename else ''}")
  app.run(absl_main)
