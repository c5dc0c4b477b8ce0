"""The one object the training loop asks about the processes that run it (Model Garden's Task/orbit split):
where this process writes, whether the run is finished, how a backup reaches the model, what is checked
at the end. `SingleProcess` is the plain case; `MultiWorker` is TensorFlow's multi-worker job, where only
the chief reads and writes the run folder and the others learn its state by collectives.
"""

import contextlib
import math
import shutil
import tempfile
from collections.abc import Callable, Iterator

import keras
import tensorflow as tf

from trainer import checkpoints, run_dir
from trainer.distributed import multi_worker, replicas
from trainer.distributed.cluster import Role
from trainer.errors import TrainerError


class SingleProcess:
  """One process trains; the run folder is its own."""

  role: Role | None = None

  def __init__(self, run_folder: str):
    self.run_folder = run_folder

  @contextlib.contextmanager
  def folder(self) -> Iterator[str]:
    """The folder this process writes the run into, for the run's life."""
    with run_dir.claimed(self.run_folder):
      yield self.run_folder

  @contextlib.contextmanager
  def lost_peers_reported(self) -> Iterator[None]:
    yield  # no peers to lose

  def finished(self, model_dir: str, strategy: tf.distribute.Strategy) -> dict | None:
    """The finished run's results (None while it is not finished)."""
    return run_dir.read_results(model_dir)

  def restore(self, model_dir: str, state: checkpoints.RunState, model: keras.Model, strategy: tf.distribute.Strategy,
              with_optimizer: bool, from_best: bool = False) -> checkpoints.RunState:
    """Loads the newest readable backup into model (with its optimizer state if with_optimizer; from best.keras
    with from_best when every backup is damaged)."""
    if not state.weights:
      return state
    return checkpoints.restore_weights(model_dir, state, model, with_optimizer, from_best)

  def check_final_weights(self, strategy: tf.distribute.Strategy, model: keras.Model) -> None:
    pass  # nothing to compare with

  def report(self, results: dict, print_summary: Callable[[], None]) -> dict:
    """The end of the run: its summary printed, its results returned."""
    print_summary()
    return results


class MultiWorker(SingleProcess):
  """One of several processes of a MultiWorkerMirroredStrategy job. The chief (rank 0) reads and writes the
  run folder; every other worker writes its callbacks' files into a temporary folder of its own (Keras'
  convention: saving may involve collectives, so every worker runs the same code) and removes it."""

  def __init__(self, run_folder: str, role: Role):
    super().__init__(run_folder)
    self.role = role

  @contextlib.contextmanager
  def folder(self) -> Iterator[str]:
    if self.role.is_chief:
      with super().folder() as folder:
        yield folder
      return
    scratch = tempfile.mkdtemp(prefix=f"cnmc-worker{self.role.rank}-")
    try:
      yield scratch
    finally:
      shutil.rmtree(scratch, ignore_errors=True)

  @contextlib.contextmanager
  def lost_peers_reported(self) -> Iterator[None]:
    """A peer that died or never came surfaces as one of several TensorFlow errors: one message instead."""
    try:
      yield
    except multi_worker.LOST_CONTACT as error:
      raise multi_worker.lost_contact(self.role, error, self.run_folder) from None

  def finished(self, model_dir: str, strategy: tf.distribute.Strategy) -> dict | None:
    """The chief's folder decides, for every worker (a collective: all call it)."""
    results = super().finished(model_dir, strategy) if self.role.is_chief else None
    if not replicas.share_numbers(strategy, [float(results is not None)])[0]:
      return None
    return results if self.role.is_chief else {}

  def restore(self, model_dir: str, state: checkpoints.RunState, model: keras.Model, strategy: tf.distribute.Strategy,
              with_optimizer: bool, from_best: bool = False) -> checkpoints.RunState:
    """The chief loads the backup into an undistributed copy of the model (loading into the distributed
    variables alone would start collectives the other workers never join); every worker then takes the
    chief's state and values by collectives, so the others need not see the run folder."""
    if from_best:
      raise TrainerError(f"{self.role}: --from_best_model works in one process: continue the run alone (without "
                         "TF_CONFIG) for an epoch, then start the job again without the flag.")
    source = model
    if self.role.is_chief and state.weights:
      source = replicas.undistributed_copy(model, with_optimizer)
      state = checkpoints.restore_weights(model_dir, state, source, with_optimizer)
    state = self._chief_state(strategy, state)
    if state.weights:
      replicas.share_variables(strategy, replicas.training_state(model, with_optimizer),
                               replicas.training_state(source, with_optimizer))
    return state

  def _chief_state(self, strategy: tf.distribute.Strategy, state: checkpoints.RunState) -> checkpoints.RunState:
    """The chief's committed state (epochs done, best score, whether there are weights to resume from), on
    every worker; a worker other than the chief gets placeholders for its own bookkeeping."""
    best = state.best or {"epoch": -1, "value": math.nan}
    completed, best_epoch, best_value, has_weights = replicas.share_numbers(
        strategy, [state.completed_epochs, best["epoch"], best["value"], float(bool(state.weights))])
    if self.role.is_chief:
      return state
    return checkpoints.RunState(history=[{"epoch": e} for e in range(int(completed))],
                                best={"epoch": int(best_epoch), "value": best_value} if best_epoch >= 0 else None,
                                weights=["on the chief"] if has_weights else [])

  def check_final_weights(self, strategy: tf.distribute.Strategy, model: keras.Model) -> None:
    """Every worker must end with the chief's weights; a difference is an error naming the variables."""
    fingerprint = replicas.check_identical(strategy, self.role, model.variables)
    print(f"{self.role}: final weights identical to the chief's (fingerprint {fingerprint}).", flush=True)

  def report(self, results: dict, print_summary: Callable[[], None]) -> dict:
    if self.role.is_chief:
      return super().report(results, print_summary)
    print(f"Done: {self.role}; the chief wrote the run to its --model_dir ({self.run_folder}).")
    return {}


def job_for(run_folder: str, role: Role | None) -> SingleProcess:
  """The job this process is part of: alone, or a worker of a multi-worker job."""
  return SingleProcess(run_folder) if role is None else MultiWorker(run_folder, role)
