"""A run's settings and results for TensorBoard's HParams dashboard: `tensorboard --logdir runs/`
then lists every run side by side, sortable by validation weighted F1."""

import os

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from trainer.config import TrainConfig, settings

HPARAMS_RUN = "hparams"  # the TensorBoard run (sub-folder of logs/) that holds them
METRICS = ("weighted_f1", "auc", "sensitivity", "specificity")  # of the best validation epoch


def _plain(value):
  """HParams take bool, int, float and str: tuples become "a,b", None "none"."""
  if isinstance(value, (tuple, list)):
    return ",".join(str(v) for v in value)
  return "none" if value is None else value


def write_hparams(log_dir: str, config: TrainConfig, runtime: dict, best_row: dict | None) -> None:
  """Writes the flags, the resolved runtime (device, precision, XLA, strategy) and the best validation
  epoch's scores (as hparams/best_val_<metric>) under <log_dir>/hparams.

  Args:
    log_dir: the run's TensorBoard folder (<model_dir>/logs).
    config: the run's flags.
    runtime: Runtime.to_json() of the run.
    best_row: the history row of the best validation epoch (None if no epoch was validated).
  """
  values = {name: _plain(value) for name, value in config.to_json().items() if settings()[name].in_hparams}
  values.update({f"runtime_{name}": _plain(value) for name, value in runtime.items()})
  with tf.summary.create_file_writer(os.path.join(log_dir, HPARAMS_RUN)).as_default() as writer:
    hp.hparams(values, trial_id=os.path.basename(os.path.dirname(os.path.abspath(log_dir))))
    for metric in METRICS:
      if best_row and f"val_{metric}" in best_row:
        tf.summary.scalar(f"hparams/best_val_{metric}", best_row[f"val_{metric}"], step=0)
    writer.flush()
