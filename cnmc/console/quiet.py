"""Quiet by default: a command shows its progress, the warnings a user must act on and its summary.

The libraries' own lines (TensorFlow's C++ log, tfds' reader notes, SavedModel info lines, absl's INFO)
are shown only with absl's `--verbosity` flag: `--verbosity=0` adds the INFO lines of every library,
`--verbosity=1` also TensorFlow's C++ INFO log. Call `apply` before TensorFlow is imported (its C++
log level is read once, at import), then `import_tensorflow`.
"""

import contextlib
import logging as python_logging
import os
import sys
import warnings

from absl import logging

_quiet = False

# Python loggers of libraries whose INFO and WARNING lines are notes to their developers, not to ours.
_CHATTY_LOGGERS = ("tensorflow", "tensorflow_datasets", "absl.tensorflow_datasets", "h5py", "matplotlib", "PIL")


def apply(verbosity_given: bool) -> None:
  """Sets the log levels of absl, TensorFlow (C++ and Python) and the chatty libraries."""
  if verbosity_given:
    level = logging.get_verbosity()  # absl applied the flag already
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if level >= 1 else "1")
    return
  global _quiet
  _quiet = True
  logging.set_verbosity(logging.WARNING)
  # 3: not even C++ ERROR lines: on a machine without a GPU, CUDA's probe logs "failed call to cuInit"
  # as an error; a real failure reaches Python as an exception and is reported there.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  for name in _CHATTY_LOGGERS:
    python_logging.getLogger(name).setLevel(python_logging.ERROR)
  logging.get_absl_logger().addFilter(_no_library_notes)  # tfds logs through absl's own logger
  warnings.filterwarnings("ignore", category=DeprecationWarning)
  warnings.filterwarnings("ignore", category=FutureWarning)


def _no_library_notes(record: python_logging.LogRecord) -> bool:
  """Drops a library's own warnings logged through absl (tfds' "Variant folder ... has no
  dataset_info.json" on every first build); the project's and any ERROR pass."""
  library = f"{os.sep}site-packages{os.sep}" in record.pathname
  return record.levelno >= python_logging.ERROR or not library


def import_tensorflow() -> None:
  """Imports TensorFlow; quietly unless --verbosity was given. Its native libraries log a few lines
  while loading ("All log messages before absl::InitializeLog() ...", oneDNN, "Could not find cuda
  drivers") straight to file descriptor 2, past TF_CPP_MIN_LOG_LEVEL, so it is pointed at /dev/null
  meanwhile. An import that fails still raises, and its traceback prints once stderr is back."""
  if "tensorflow" in sys.modules or not _quiet:
    import tensorflow  # noqa: F401
    return
  with _stderr_silenced():
    import tensorflow  # noqa: F401


@contextlib.contextmanager
def _stderr_silenced():
  sys.stderr.flush()
  saved = os.dup(2)
  try:
    with open(os.devnull, "w") as devnull:
      os.dup2(devnull.fileno(), 2)
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
