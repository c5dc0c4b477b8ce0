"""`python -m <command> <args>` inside the test process: the command's own module, absl flags, console.exits
and output, without the ~5 s a new Python spends importing TensorFlow.

For tests of what a command computes, writes and refuses. A test of how a process starts, logs, is
interrupted or killed runs it as a subprocess (tests/support/subprocesses.py), as do the commands' smoke
tests. Each run gets absl's flag registry as a fresh process has it (absl's own flags only), the flag-defining
modules of the project imported anew, and everything it changes in this process put back afterwards: flags,
those modules, signal handlers, the environment, the working folder, log levels and warning filters.
"""

import contextlib
import copy
import dataclasses
import io
import logging as python_logging
import os
import pathlib
import runpy
import signal
import sys
import warnings

from absl import flags
from absl import logging

from cnmc.console import exits, quiet

REPO = pathlib.Path(__file__).resolve().parents[2]
PROJECT = {path.parent.name for path in REPO.glob("*/__init__.py")}


@dataclasses.dataclass
class Finished:
  """What subprocess.run would have returned: the exit status and the text written to stdout and stderr."""
  returncode: int
  stdout: str
  stderr: str


def _is_project(module_name: str) -> bool:
  return module_name.split(".")[0] in PROJECT or module_name.endswith(".py")  # .py: a module run as __main__


@contextlib.contextmanager
def _fresh_flags():
  """absl's registry as a new process has it, and the project modules that define flags imported anew."""
  registry = flags.FLAGS
  saved_registry = registry.__dict__.copy()  # the containers in it stay untouched: the run gets deep copies
  fresh = copy.deepcopy(registry)
  project_flags = {flag.name for module_name, module_flags in fresh.flags_by_module_dict().items()
                   if _is_project(module_name) for flag in module_flags}
  for name in project_flags:
    delattr(fresh, name)
  fresh.unparse_flags()
  defining = {name for name in registry.flags_by_module_dict() if _is_project(name)}
  saved_modules = {name: sys.modules[name] for name in defining if name in sys.modules}
  for name in defining:
    sys.modules.pop(name, None)
    _set_in_package(name, None)
  registry.__dict__.clear()
  registry.__dict__.update(fresh.__dict__)
  try:
    yield
  finally:
    defined = {name for name in registry.flags_by_module_dict() if _is_project(name)}
    registry.__dict__.clear()
    registry.__dict__.update(saved_registry)
    for name in defined | defining:
      sys.modules.pop(name, None)
      _set_in_package(name, saved_modules.get(name))


def _set_in_package(name: str, module) -> None:
  """`from package import leaf` reads the package's attribute before sys.modules: keep the two in step."""
  if module is not None:
    sys.modules[name] = module
  package, _, leaf = name.rpartition(".")
  if package in sys.modules:
    if module is not None:
      setattr(sys.modules[package], leaf, module)
    elif hasattr(sys.modules[package], leaf):
      delattr(sys.modules[package], leaf)


@contextlib.contextmanager
def _process_state(cwd):
  """Puts back what a command changes in its process: handlers, environment, folder, log levels, filters."""
  handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
  environment, folder = dict(os.environ), os.getcwd()
  verbosity, absl_filters = logging.get_verbosity(), list(logging.get_absl_logger().filters)
  levels = {name: python_logging.getLogger(name).level for name in quiet._CHATTY_LOGGERS}
  was_quiet, hard_exit = quiet._quiet, exits._hard_exit
  exits._hard_exit_after_interrupt = False  # an interrupted command must not end the test process
  try:
    os.chdir(cwd or REPO)
    with warnings.catch_warnings():
      yield
  finally:
    os.chdir(folder)
    os.environ.clear()
    os.environ.update(environment)
    for signum, handler in handlers.items():
      signal.signal(signum, handler)
    logging.set_verbosity(verbosity)
    logging.get_absl_logger().filters[:] = absl_filters
    for name, level in levels.items():
      python_logging.getLogger(name).setLevel(level)
    quiet._quiet, exits._hard_exit = was_quiet, hard_exit
    exits._hard_exit_after_interrupt = True


@contextlib.contextmanager
def _captured_output():
  """stdout and stderr, including absl's log handler (which holds on to the stream it was given)."""
  out, err = io.StringIO(), io.StringIO()
  handler = logging.get_absl_handler().python_handler
  stream = handler.stream
  handler.stream = err
  try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      yield out, err
  finally:
    handler.stream = stream


def module(name: str, *args: str, cwd=None) -> Finished:
  """Runs `python -m <name> <args>` here; returns its exit status and output (an unexpected exception,
  a bug, propagates to the test as it is)."""
  argv = sys.argv
  with _process_state(cwd), _fresh_flags(), _captured_output() as (out, err):
    sys.argv = [name, *args]
    try:
      runpy.run_module(name, run_name="__main__", alter_sys=True)
      code = 0
    except SystemExit as stopped:
      code = stopped.code if isinstance(stopped.code, int) else (0 if stopped.code is None else 1)
    finally:
      sys.argv = argv
  return Finished(code, out.getvalue(), err.getvalue())
