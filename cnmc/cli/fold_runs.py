"""What the tools that train share: trainer runs, each in a process of its own, started from settings.

A tool reads the trainer's flags once into a TrainConfig (trainer.flags.config_from_flags), makes each run's
settings as a changed copy of it, and starts `python -m trainer` with the flags that give exactly those settings
(trainer.config.command_line, the same rendering as the resume command). A fresh process each time: runs do not
depend on their order or each other's memory; a rerun skips finished runs and resumes an interrupted one.
"""

import os
import signal
import subprocess
import sys

from absl import app

from cnmc.console import exits
from trainer import flags as trainer_flags
from trainer.config import TrainConfig, command_line, names_where


def refuse_given(set_here: tuple[str, ...] = ()) -> None:
  """Refuses the trainer flags given on the command line that the tool sets for each run itself: the splits, the
  folder (the fields per_run) and set_here."""
  refused = [name for name in (*names_where("per_run"), *set_here) if name in trainer_flags.given()]
  if refused:
    extra = f", and --{', --'.join(set_here)}," if set_here else ""
    raise app.UsageError(f"--{', --'.join(refused)}: this tool sets the training and validation splits and each "
                         f"run's folder{extra} itself.")


def trainer_arguments(config: TrainConfig) -> list[str]:
  """The flags of `python -m trainer` that give config (what the tools record as their trainer flags)."""
  return command_line(config)[3:]


def train_run(config: TrainConfig) -> None:
  """Trains as config says in its model_dir (a finished run is kept, a broken one resumes)."""
  command = [sys.executable, *command_line(config)[1:]]
  print(f"\n=== {os.path.basename(config.model_dir)}: training on {' + '.join(config.train_splits)}, scoring on "
        f"{config.val_split} ===\n{' '.join(command)}", flush=True)
  if _run_to_the_end(command, config.model_dir) != 0:
    raise app.UsageError(f"Training in {config.model_dir} failed (its output is above). Fix the cause and rerun: "
                         "finished runs are kept, and this one resumes.")


def _run_to_the_end(command: list[str], run_dir: str) -> int:
  """The trainer's exit status. Interrupted, the trainer is given time to stop cleanly (Ctrl-C reached it
  too; SIGTERM is passed on) before the interrupt is reported with what is kept."""
  process = subprocess.Popen(command)
  try:
    return process.wait()
  except KeyboardInterrupt as interrupt:
    _stop(process, signal.SIGTERM if isinstance(interrupt, exits.Terminated) else signal.SIGINT)
    raise exits.Stopped(f"{exits.interrupt_name(interrupt)} while training {run_dir}: finished runs and that run's "
                        "finished epochs are kept. Rerun the same command to continue.", interrupt) from None


def _stop(process: subprocess.Popen, signum: int, grace_seconds: float = 60) -> None:
  """Ends process: a Ctrl-C from a terminal reached the whole process group, so it gets a few seconds
  on its own; then signum, then SIGKILL after grace_seconds."""
  waits = [(5, None)] if signum == signal.SIGINT else []
  for timeout, signal_first in [*waits, (grace_seconds, signum)]:
    if signal_first is not None:
      process.send_signal(signal_first)
    try:
      process.wait(timeout=timeout)
      return
    except subprocess.TimeoutExpired:
      continue
  process.kill()
  process.wait()
