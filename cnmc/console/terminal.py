"""Progress that redraws itself on a terminal, plain lines everywhere else: a log file or a pipe gets no
carriage returns, backspaces or colour codes (the trainer's epochs here; tqdm's bars in inference.py and the
dataset builder are turned off the same way)."""

import sys


def is_terminal(stream=None) -> bool:
  """Whether stream (default: stdout) is a terminal a progress bar can redraw."""
  stream = stream or sys.stdout
  try:
    return stream.isatty()
  except (AttributeError, ValueError):  # a closed or stand-in stream
    return False


def keras_verbosity() -> int:
  """fit's verbose: 1 (a progress bar) on a terminal, 2 (one line per epoch) in a file or pipe."""
  return 1 if is_terminal() else 2

