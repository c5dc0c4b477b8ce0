"""Where a run is, so that an interrupt (Ctrl-C, SIGTERM) ends in one line saying what is kept and how to go on."""


import keras

from cnmc.console import exits
from cnmc.run_folder import record


class Progress(keras.callbacks.Callback):
  """Follows the run through its stages, epochs and steps (a callback of every phase, and told the rest)."""

  def __init__(self, epochs: int, model_dir: str):
    super().__init__()
    self.epochs, self.model_dir = epochs, model_dir
    self.stage, self.detail = "starting", ""
    self.epoch, self.step, self.steps = None, 0, None

  def at(self, stage: str, detail: str = "") -> None:
    self.stage, self.detail = stage, detail

  def on_train_begin(self, logs=None):
    self.steps = self.params.get("steps")

  def on_epoch_begin(self, epoch, logs=None):
    self.stage, self.epoch, self.step = "training", epoch, 0

  def on_test_begin(self, logs=None):
    self.stage = "validating"

  def on_test_end(self, logs=None):
    self.stage = "saving"  # the epoch's commit follows (trainer/checkpoints.py)

  def on_train_batch_end(self, batch, logs=None):
    self.step = batch + 1

  def stopped(self, interrupt: KeyboardInterrupt, resume_command: str) -> exits.Stopped:
    """The Stopped error for an interrupt now: where, what the run folder keeps, the command to go on."""
    done = committed_epochs(self.model_dir)
    kept = (f"epoch 1 is kept in {self.model_dir}" if done == 1 else
            f"epochs 1-{done} are kept in {self.model_dir} (the last finished epoch is {done})" if done
            else "no epoch had finished, so nothing is kept")
    if self.stage == "dataset":
      return exits.Stopped(f"{exits.interrupt_name(interrupt)} while building the dataset {self.detail}: the "
                           f"partial build is discarded and the next run builds it again. Start again with: "
                           f"{resume_command}", interrupt)
    where = {
        "starting": "before training started",
        "training": (f"in epoch {(self.epoch or 0) + 1} of {self.epochs}, step {self.step}"
                     + (f" of {self.steps}" if self.steps else "")),
        "validating": f"while validating epoch {(self.epoch or 0) + 1} of {self.epochs}",
        "saving": f"while saving epoch {(self.epoch or 0) + 1} of {self.epochs}",
        "exporting": "while exporting the final model",
    }[self.stage]
    go_on = "Resume with" if done else "Start again with"
    return exits.Stopped(f"{exits.interrupt_name(interrupt)} {where}; {kept}. {go_on}: {resume_command}", interrupt)


def committed_epochs(model_dir: str) -> int:
  """How many epochs the run folder's commit record holds (0 if none, or if the record cannot be read)."""
  try:
    return len((record.read_commit(model_dir) or {}).get("history", []))
  except (record.DamagedRecord, AttributeError, TypeError):
    return 0
