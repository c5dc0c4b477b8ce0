"""A run's progress on disk: a kill -9 at any instant loses at most the epoch in progress, and a rerun
continues with every epoch in history.csv exactly once.

Each epoch ends in one transaction (`EpochCommit`):
  1. if the epoch improved the monitored score, the whole model goes to `best.<epoch>.partial.keras`;
  2. the weights and optimizer state go to `backup/epoch_<n>.weights.h5` (atomically);
  3. the commit: `backup/state.json` is replaced atomically; it lists the finished epochs' history rows,
     the best epoch, and the two newest weight files (the older one is the fallback if the newer is damaged);
  4. after the commit: the partial best model becomes `best.keras`, history.csv is rewritten from the
     committed rows, older weight files are deleted.
A kill before step 3 leaves the epoch uncommitted, and the rerun trains it again; a kill after it is
finished by the rerun (`load_state` redoes step 4, which is idempotent).
"""

import contextlib
import csv
import dataclasses
import glob
import io
import math
import os

import keras
import numpy as np
from absl import logging

from cnmc.run_folder import record
from cnmc.run_folder.layout import BACKUP_DIR, BEST_MODEL, HISTORY, STATE
from cnmc.storage import atomic
from trainer.errors import TrainerError

KEPT_WEIGHTS = 2  # the newest and its predecessor, in case the newest is damaged


class TrainingDiverged(TrainerError):
  """The loss became NaN or infinite; the message says where and what to try."""


@dataclasses.dataclass
class RunState:
  """What the finished epochs left: their history rows, the best epoch, the weights to resume from."""
  history: list[dict] = dataclasses.field(default_factory=list)
  best: dict | None = None  # {"epoch": 0-based, "value": score}
  weights: list[str] = dataclasses.field(default_factory=list)  # newest first, names in backup/

  @property
  def completed_epochs(self) -> int:
    return len(self.history)

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


def _backup_dir(model_dir: str) -> str:
  return os.path.join(model_dir, BACKUP_DIR)


def _partial_best(model_dir: str, epoch: int) -> str:
  return os.path.join(model_dir, f"best.{epoch:04d}.partial.keras")


def _history_csv(rows: list[dict]) -> str:
  rows = [{**row, "epoch": row["epoch"] + 1} for row in rows]  # people count epochs from 1, as the console does
  columns = ["epoch"] + sorted({key for row in rows for key in row} - {"epoch"})
  text = io.StringIO()
  writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  return text.getvalue()


def finish_commit(model_dir: str, state: RunState) -> None:
  """Step 4 of the transaction; safe to repeat."""
  if state.best is not None:
    partial = _partial_best(model_dir, state.best["epoch"])
    if os.path.exists(partial):
      os.replace(partial, os.path.join(model_dir, BEST_MODEL))
      atomic.fsync_dir(model_dir)
  for stray in glob.glob(os.path.join(model_dir, "best.*.partial.keras")):
    os.remove(stray)  # from uncommitted epochs
  if state.history:
    atomic.write_text(os.path.join(model_dir, HISTORY), _history_csv(state.history))
  backup = _backup_dir(model_dir)
  for path in glob.glob(os.path.join(backup, "*.weights.h5")):
    if os.path.basename(path) not in state.weights:
      os.remove(path)


def load_state(model_dir: str) -> RunState:
  """The committed state of the run in model_dir (empty for a new run), with any half-finished commit
  completed and anything an uncommitted epoch or a killed writer left removed (call it holding the lock)."""
  for folder in (model_dir, _backup_dir(model_dir)):
    atomic.remove_strays(folder)
  path = os.path.join(_backup_dir(model_dir), STATE)
  try:
    committed = record.read_commit(model_dir)
    state = RunState() if committed is None else RunState(**committed)
  except (record.DamagedRecord, TypeError) as error:
    problem = str(error) if isinstance(error, record.DamagedRecord) else f"{path} is damaged ({error})"
    raise TrainerError(f"{problem}. It records which epochs of the run in {model_dir} are finished; without it the "
                       "run cannot resume. Move the folder aside and train again with a new --model_dir (its "
                       "best.keras, if any, is a complete model).") from None
  if committed is None and os.path.exists(os.path.join(model_dir, HISTORY)):  # written only after a commit
    raise TrainerError(f"{model_dir} holds a history.csv but no {BACKUP_DIR}/{STATE}: it was trained by an "
                       f"older version of cnmc, or its {BACKUP_DIR}/ was removed, so it cannot be resumed "
                       "safely. Train in a new --model_dir (this one is left as it is).")
  finish_commit(model_dir, state)
  return state


def restore_weights(model_dir: str, state: RunState, model: keras.Model, with_optimizer: bool,
                    from_best: bool = False) -> RunState:
  """Loads the newest readable backup into model; returns the state it corresponds to.

  with_optimizer: the model is compiled for the phase being resumed, so its optimizer state is loaded
  too; otherwise (a phase starts) the model must not be compiled yet and gets the weights only.
  A damaged newest file falls back to the one before it (that epoch is then trained again).
  from_best (--from_best_model): when no backup can be read, best.keras's weights instead, with the state of its
  epoch and no weight file (the optimizer starts afresh); refused with that way out named otherwise.
  """
  for index, name in enumerate(state.weights):
    path = os.path.join(_backup_dir(model_dir), name)
    try:
      if with_optimizer and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
      model.load_weights(path)
    except (OSError, ValueError) as error:
      logging.warning("The backup %s cannot be read (%s); trying the one before it.", path, str(error)[:200])
      continue
    if index:  # fell back: the epochs after this file are trained again
      kept = _epoch_of(name)
      state = dataclasses.replace(state, history=state.history[:kept], weights=state.weights[index:],
                                  best=_best_of(state.history[:kept], state.best))
    return state
  best_model = os.path.join(model_dir, BEST_MODEL)
  if from_best and state.best is not None and os.path.exists(best_model):
    return _continue_from_best(best_model, state, model)
  way_on = (f"Its best.keras (epoch {state.best['epoch'] + 1}) is intact: rerun with --from_best_model to continue "
            "from its weights with a fresh optimizer state (the epochs after it are trained again), or move the "
            "folder aside and train again with a new --model_dir." if state.best and os.path.exists(best_model)
            else "Move the folder aside and train again with a new --model_dir.")
  raise TrainerError(f"No backup in {_backup_dir(model_dir)} can be read ({', '.join(state.weights)}): the "
                     f"run in {model_dir} cannot resume from where it stopped. {way_on}")


def _continue_from_best(best_model: str, state: RunState, model: keras.Model) -> RunState:
  """The best model's weights in model; the state after its epoch, with no weight file to load an optimizer from."""
  try:
    saved = keras.saving.load_model(best_model, compile=False)
    weights = saved.get_weights()
    model.set_weights(weights)
  except (OSError, ValueError) as error:
    raise TrainerError(f"--from_best_model: {best_model} cannot be loaded into this run's model "
                       f"({str(error).splitlines()[0][:200]}).") from None
  kept = state.best["epoch"] + 1
  again = state.completed_epochs - kept
  print(f"Continuing from {best_model} (epoch {kept}) with a fresh optimizer state: every backup was damaged"
        + (f"; epoch{'s' if again > 1 else ''} {kept + 1}{f'-{state.completed_epochs}' if again > 1 else ''} "
           f"{'are' if again > 1 else 'is'} trained again." if again else "."), flush=True)
  return RunState(history=state.history[:kept], best=state.best, weights=[])


def _weights_name(completed_epochs: int) -> str:
  return f"epoch_{completed_epochs:04d}.weights.h5"


def _epoch_of(weights_name: str) -> int:
  return int(weights_name.split("_")[1].split(".")[0])


def _best_of(rows: list[dict], best: dict | None) -> dict | None:
  return best if best is not None and best["epoch"] < len(rows) else None


class EpochCommit(keras.callbacks.Callback):
  """Commits each finished epoch (see the module docstring); keeps best.keras by `monitor` (max).

  exported: what best.keras holds: the classifier (the layers the train step trains).
  averaged: a context in which the model holds the weights best.keras takes (the averages under
    --ema_decay); the backup takes the weights training goes on with.
  """

  def __init__(self, model_dir: str, state: RunState, monitor: str, exported: keras.Model,
               averaged=contextlib.nullcontext):
    super().__init__()
    self.model_dir, self.state, self.monitor, self.exported = model_dir, state, monitor, exported
    self.averaged = averaged

  def on_epoch_end(self, epoch, logs=None):
    row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
    if len(self.state.history) != epoch:
      raise RuntimeError(f"epoch {epoch} follows {len(self.state.history)} committed epochs")
    best = self.state.best
    score = row.get(self.monitor)
    if score is not None and math.isfinite(score) and (best is None or score > best["value"]):
      best = {"epoch": epoch, "value": score}
      with atomic.atomic_path(_partial_best(self.model_dir, epoch), suffix=".keras") as temporary, self.averaged():
        self.exported.save(temporary)
    name = _weights_name(epoch + 1)
    with atomic.atomic_path(os.path.join(_backup_dir(self.model_dir), name), suffix=".weights.h5") as temporary:
      self.model.save_weights(temporary)
    self.state = RunState(history=[*self.state.history, row], best=best,
                          weights=[name, *self.state.weights][:KEPT_WEIGHTS])
    atomic.write_json(os.path.join(_backup_dir(self.model_dir), STATE), self.state.to_json())  # the commit
    finish_commit(self.model_dir, self.state)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
  """Stops at the first NaN or infinite loss, before the epoch can be committed or saved as best."""

  def __init__(self, phase: str):
    super().__init__()
    self.phase, self.epoch = phase, 0

  def on_epoch_begin(self, epoch, logs=None):
    self.epoch = epoch

  def _check(self, logs, where: str):
    for key in ("loss", "val_loss"):
      value = (logs or {}).get(key)
      if value is not None and not math.isfinite(float(value)):
        raise TrainingDiverged(
            f"Training diverged: {key} became {float(value)} in phase {self.phase}, epoch {self.epoch + 1}, "
            f"{where}. Try a lower --learning_rate (or --fine_tune_learning_rate), or --mixed_precision=float32 "
            "to rule out float16 overflow, with a new --model_dir. The epochs finished before it, if any, are kept "
            "(best.keras, history.csv, backup/).")

  def on_train_batch_end(self, batch, logs=None):
    self._check(logs, f"step {batch + 1}")

  def on_epoch_end(self, epoch, logs=None):
    self._check(logs, "validation")


class EpochSeeds(keras.callbacks.Callback):
  """Each epoch's random draws (augmentation, dropout, mixing) are a function of the layers' seeds and the
  epoch: every seed generator's counter starts epoch e at e * STRIDE. Keras keeps no generator state in the
  weights, so without this a resumed run would draw its epochs' randomness afresh from the seeds."""

  STRIDE = 2**20  # draws an epoch may take before it reaches the next epoch's (a step takes about ten)

  def on_epoch_begin(self, epoch, logs=None):
    for state in seed_states(self.model):
      seed = int(keras.ops.convert_to_numpy(state)[0])
      state.assign(np.array([seed, epoch * self.STRIDE], dtype=state.dtype))


def seed_states(model: keras.Model) -> list:
  """The state variables of the model's seed generators (Keras names them so)."""
  return [variable for variable in model.variables if variable.name == "seed_generator_state"]


def drop_backup_weights(model_dir: str) -> None:
  """After results.json: a finished run needs no weights to resume from (state.json stays, as a record)."""
  for path in glob.glob(os.path.join(_backup_dir(model_dir), "*.weights.h5")):
    os.remove(path)
