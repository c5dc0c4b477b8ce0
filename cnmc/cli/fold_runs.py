"""What cross_validate and leakage_demo share: trainer runs, each in a process of its own.

Each run is `python -m trainer` in a fresh process (a fresh TensorFlow each time, so runs do not
depend on their order or each other's memory), with the trainer flags given to the calling tool
passed through; a rerun skips finished runs and resumes an interrupted one.
"""

import os
import signal
import subprocess
import sys

from absl import app, flags

from cnmc.console import exits

from trainer import flags as trainer_flags

SET_HERE = ("train_splits", "val_split", "model_dir")  # each run's own


def passthrough_flags(also_set_here: tuple[str, ...] = ()) -> list[str]:
  """The trainer flags given on this command line, as arguments for the trainer (refusing those the
  tool sets for each run itself: the splits, the folder, and also_set_here)."""
  given = [f for f in flags.FLAGS.get_key_flags_for_module(trainer_flags) if f.present]
  refused = [f.name for f in given if f.name in SET_HERE + also_set_here]
  if refused:
    extra = f", and --{', --'.join(also_set_here)}," if also_set_here else ""
    raise app.UsageError(f"--{', --'.join(refused)}: this tool sets the training and validation splits and each "
                         f"run's folder{extra} itself.")
  return [f.serialize() for f in given]


def train_run(run_dir: str, training: tuple[str, ...], held_out: str, arguments: list[str]) -> None:
  """Trains on `training`, validating on `held_out`, in run_dir (a finished run is kept, a broken one resumes)."""
  command = [sys.executable, "-m", "trainer", *arguments, f"--train_splits={','.join(training)}",
             f"--val_split={held_out}", f"--model_dir={run_dir}"]
  print(f"\n=== {os.path.basename(run_dir)}: training on {' + '.join(training)}, scoring on {held_out} ===\n"
        f"{' '.join(command)}", flush=True)
  if _run_to_the_end(command, run_dir) != 0:
    raise app.UsageError(f"Training in {run_dir} failed (its output is above). Fix the cause and rerun: "
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
