"""Running this project's modules and scripts as a user would: in a fresh Python process."""

import os
import pathlib
import signal
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def environment(**extra: str) -> dict:
  """The test process's environment, with the repository importable. TensorFlow's C++ log level is left to
  the commands (quiet by default, as a user gets them)."""
  env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
  return {**env, "PYTHONPATH": str(REPO), **extra}


def as_from_a_terminal() -> None:
  """preexec_fn: the child takes Ctrl-C and SIGTERM as a command started from a terminal does, whatever the
  test process has come to: a child started with SIGINT ignored or blocked never raises KeyboardInterrupt.
  (In one full run under pytest-xdist, every Ctrl-C test of one session saw exactly that; the cause, some
  state a library left in the test process, was not found. The tests are about the commands, not about it.)"""
  signal.signal(signal.SIGINT, signal.SIG_DFL)
  signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def python(*args: str, timeout: int = 900, env: dict | None = None, cwd=REPO) -> subprocess.CompletedProcess:
  """`python <args>` (in the repository unless cwd is given); output captured as text."""
  return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                        env=environment(**(env or {})), preexec_fn=as_from_a_terminal)



def module(name: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
  """`python -m <name> <args>`, e.g. module("tools.evaluate", "--model_dir=...")."""
  return python("-m", name, *args, **kwargs)
