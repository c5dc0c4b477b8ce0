"""`python -m trainer` on a prepared dataset folder, killed with SIGKILL at a chosen point (kill drills).

  python tests/support/train_and_die.py <dataset folder> <kill point> <trainer flags...>

Kill points (the process kills itself, as `kill -9` would, at the n-th occurrence, 1-based):
  none                     run to the end
  batch:<epoch>:<batch>    inside an epoch, after that train step
  write:<name>:<n>         writing a file whose name contains <name>, when it is complete but not yet
                           renamed into place (state.json, .weights.h5, best, model.keras, results.json)
  torn:<name>:<n>          writing such a file, half-way through (the temporary file is cut short)
  after_commit:<n>         right after the n-th epoch's commit, before its follow-up
  phase_end:<n>            when the n-th fit call (a phase) returns
"""

import os
import signal
import sys

import keras
import tensorflow_datasets as tfds

from cnmc.console import exits
from cnmc.run_folder import layout
from cnmc.storage import atomic
from trainer import checkpoints, flags as trainer_flags
from trainer.train import run


def die():
  sys.stdout.flush()
  os.kill(os.getpid(), signal.SIGKILL)


class Counter:
  def __init__(self, n: int):
    self.n, self.seen = n, 0

  def hit(self) -> bool:
    self.seen += 1
    return self.seen == self.n


def arm(point: str) -> list:
  """Patches the code to die at `point`; returns extra callbacks for the trainer."""
  kind, *args = point.split(":")
  if kind == "batch":
    epoch, batch = int(args[0]), int(args[1])

    class DieInBatch(keras.callbacks.Callback):
      def on_epoch_begin(self, e, logs=None):
        self.epoch = e

      def on_train_batch_end(self, b, logs=None):
        if self.epoch == epoch and b == batch:
          die()
    return [DieInBatch()]
  if kind in ("write", "torn"):
    name, counter = args[0], Counter(int(args[1]))
    fsync_tree = atomic.fsync_tree

    def dying_fsync(path):
      if name in os.path.basename(path) and counter.hit():
        if kind == "torn":
          size = os.path.getsize(path) if os.path.isfile(path) else 0
          os.truncate(path, size // 2)
        die()
      fsync_tree(path)
    atomic.fsync_tree = dying_fsync
    return []
  if kind == "after_commit":
    counter, finish = Counter(int(args[0])), checkpoints.finish_commit

    def dying_finish(model_dir, state):
      if os.path.exists(os.path.join(model_dir, "backup", layout.STATE)) and counter.hit():
        die()
      finish(model_dir, state)
    checkpoints.finish_commit = dying_finish
    return []
  if kind == "phase_end":
    counter, fit = Counter(int(args[0])), keras.Model.fit

    def dying_fit(self, *a, **k):
      history = fit(self, *a, **k)
      if counter.hit():
        die()
      return history
    keras.Model.fit = dying_fit
    return []
  if kind != "none":
    raise ValueError(f"unknown kill point {point!r}")
  return []


if __name__ == "__main__":
  builder = tfds.builder_from_directory(sys.argv.pop(1))
  callbacks = arm(sys.argv.pop(1))

  def main(arguments):
    run(trainer_flags.config_from_flags(), extra_callbacks=callbacks, builder=builder)
  exits.run(main)  # as python -m trainer ends
