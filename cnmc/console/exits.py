"""How every command ends: a user's mistake, a damaged file or an interrupt is one line on stderr.

`run(main)` is absl's `app.run` with the project's rules:
  - flags that do not parse, or a user error (an absl `UsageError`: DatasetError, TrainerError,
    EvaluationError) or an `OSError` (a full disk, a folder without permission): `error: <message>`,
    exit status 1;
  - Ctrl-C: exit 130, SIGTERM (a scheduler's preemption): exit 143, each as one line saying what was
    kept (a command that knows more raises `Stopped` with its own words);
  - a damaged file TensorFlow could not read (`DataLossError`): one line, exit 1 (`describe_data_loss`
    lets a command name the dataset and the fix);
  - library chatter hidden unless `--verbosity` is given (console.quiet).
Nothing here imports TensorFlow or the rest of the project.
"""

import os
import signal
import sys
from collections.abc import Callable

from absl import app, flags

from cnmc.console import quiet

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
  """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so one `except` handles both."""


class Stopped(Exception):
  """An interrupt a command has described: what it was doing, what is kept, how to go on."""

  def __init__(self, message: str, interrupt: KeyboardInterrupt):
    super().__init__(message)
    self.exit_code = EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED


def interrupt_name(interrupt: KeyboardInterrupt) -> str:
  """'Terminated (SIGTERM)' or 'Interrupted (Ctrl-C)', to start a Stopped message."""
  return "Terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "Interrupted (Ctrl-C)"


def disguised_interrupt(error: BaseException) -> KeyboardInterrupt | None:
  """The interrupt hidden in a RuntimeError that pybind11 raises when Ctrl-C or SIGTERM lands while a
  TensorFlow op builds its own error ("MISMATCH of original and normalized active exception types: ORIGINAL
  UnavailableError REPLACED BY KeyboardInterrupt", seen in a multi-worker job); None for any other error."""
  text = str(error) if isinstance(error, RuntimeError) else ""
  if "REPLACED BY Terminated" in text:
    return Terminated()
  if "REPLACED BY KeyboardInterrupt" in text:
    return KeyboardInterrupt()
  return None


_MAIN_PID = os.getpid()


def _raise_terminated(signum, frame):
  if os.getpid() != _MAIN_PID:  # a forked helper (a library's multiprocessing pool) inherits the handler:
    os._exit(EXIT_TERMINATED)  # it ends quietly when its pool terminates it
  raise Terminated()


def fail(message: str, code: int = EXIT_ERROR) -> None:
  """Prints `error: <message>` on stderr and exits with `code` (no traceback)."""
  print(f"error: {message}", file=sys.stderr, flush=True)
  _exit(code, interrupted=code in (EXIT_INTERRUPTED, EXIT_TERMINATED))


_hard_exit: Callable[[], bool] = lambda: False
_hard_exit_after_interrupt = True  # False only where a command runs inside another program (the tests)


def exit_hard_when(condition: Callable[[], bool]) -> None:
  """Ends the process with os._exit when condition() holds at exit (a multi-worker job: TensorFlow's
  coordination agent would wait at exit for peers that may be gone and log over the message)."""
  global _hard_exit
  _hard_exit = condition


def _exit(code: int, interrupted: bool = False) -> None:
  """sys.exit, or os._exit once the output is flushed: for a multi-worker job (exit_hard_when) and after an
  interrupt, when everything worth keeping is on disk and the interpreter's teardown of a large model's graphs
  and pipelines would keep the user waiting (7-40 s with EfficientNetB3 on a CPU) for nothing."""
  if _hard_exit() or (interrupted and _hard_exit_after_interrupt):
    sys.stdout.flush()
    sys.stderr.flush()
    _remove_generated_code()
    os._exit(code)
  sys.exit(code)


def _remove_generated_code() -> None:
  """TensorFlow's AutoGraph writes each function it converts to a temporary file and deletes it at exit; os._exit
  skips that, which left a few dozen files in the temporary folder per interrupted run. They are the modules it
  registers under this prefix."""
  for name, module in list(sys.modules.items()):
    if name.startswith("__autograph_generated_file"):
      try:
        os.remove(module.__file__)
      except (OSError, AttributeError, TypeError):  # gone already, or not a file: nothing to clean
        pass


def _end_progress_line() -> None:
  """Ignores further interrupts (a second Ctrl-C must not break the message into a traceback), and ends
  the line a progress bar was redrawing with \\r, so the message starts on a line of its own."""
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  signal.signal(signal.SIGTERM, signal.SIG_IGN)
  print(file=sys.stdout, flush=True)


def _one_line_reason(error: OSError) -> str:
  return f"{error.strerror or error}{f': {error.filename}' if error.filename else ''}"


def _parse_flags(argv: list[str]) -> list[str]:
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:  # absl would print "FATAL Flags parsing error" and a second line
    fail(f"{error} (see --help).")


def describe_data_loss(error: Exception) -> str:
  """The message for a DataLossError nobody described: TensorFlow's first line."""
  return (f"A file could not be read: it is damaged or cut short ({str(error).strip().splitlines()[0]}). "
          "If it is part of a dataset, rebuild the dataset.")


def _is_data_loss(error: BaseException) -> bool:
  return type(error).__name__ == "DataLossError" and "tensorflow" in sys.modules


def _interrupted(interrupt: KeyboardInterrupt) -> None:
  """An interrupt no command described: what every command can say (its writes are atomic)."""
  _end_progress_line()
  fail(f"{interrupt_name(interrupt)}: stopped; every file written so far is complete, nothing half-written was "
       "left.", EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED)


def run(main: Callable[[list[str]], object], on_data_loss: Callable[[Exception], str] = describe_data_loss) -> None:
  """Runs main(arguments after the flags) under absl with the rules in the module docstring."""
  def absl_main(argv):
    quiet.apply(verbosity_given=flags.FLAGS["verbosity"].present)
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
      main(argv[1:])
    except Stopped as stopped:
      _end_progress_line()
      fail(str(stopped), stopped.exit_code)
    except KeyboardInterrupt as interrupt:
      _interrupted(interrupt)
    except app.UsageError as error:
      fail(str(error))
    except OSError as error:
      fail(_one_line_reason(error))
    except Exception as error:  # noqa: BLE001  (only an interrupt in disguise and a DataLossError are ours)
      interrupt = disguised_interrupt(error)
      if interrupt is not None:
        _interrupted(interrupt)
      if not _is_data_loss(error):
        raise
      fail(on_data_loss(error))
  app.run(absl_main, flags_parser=_parse_flags)
