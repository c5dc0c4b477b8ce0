"""A killed run resumes at the next epoch; the same seed with --deterministic repeats a run exactly."""

import keras
import pytest
from tensorflow.python.framework import config as tf_config

from trainer.train import run
from tests.trainer.helpers import history, tiny_config


class Killed(Exception):
  pass


class KillAfterEpoch(keras.callbacks.Callback):
  """Stands in for a killed process: raises once the epoch (and its backup) is done."""

  def __init__(self, epoch: int):
    super().__init__()
    self.epoch = epoch

  def on_epoch_end(self, epoch, logs=None):
    if epoch == self.epoch:
      raise Killed()


class EpochRecorder(keras.callbacks.Callback):
  def __init__(self):
    super().__init__()
    self.epochs = []

  def on_epoch_begin(self, epoch, logs=None):
    self.epochs.append(epoch)


def test_a_killed_run_resumes_at_the_next_epoch_and_skips_the_finished_warmup(synthetic_data_dir, tmp_path):
  # Two phases need pretrained weights: use a file of weights saved from a random backbone.
  from trainer import backbones
  weights = tmp_path / "b3.weights.h5"
  backbones.get_backbone("effnetb3").build((32, 32, 3), None).save_weights(weights)
  config = tiny_config(synthetic_data_dir, tmp_path / "run", weights=str(weights), epochs=3, warmup_epochs=1,
                       steps_per_epoch=2, validation_steps=1)
  with pytest.raises(Killed):
    run(config, extra_callbacks=[KillAfterEpoch(1)])  # epoch 0 warms up, epoch 1 is the first fine-tuning one
  assert not (tmp_path / "run" / "results.json").exists()
  recorder = EpochRecorder()
  run(config, extra_callbacks=[recorder])
  assert recorder.epochs == [2]  # neither the warm-up nor fine-tuning epoch 1 is trained again
  assert [int(row["epoch"]) for row in history(tmp_path / "run")] == [0, 1, 2]
  assert (tmp_path / "run" / "results.json").exists()


def test_same_seed_and_deterministic_give_identical_metrics(synthetic_data_dir, tmp_path):
  try:
    for name in ("a", "b"):
      run(tiny_config(synthetic_data_dir, tmp_path / name, seed=7, deterministic=True, epochs=1,
                      steps_per_epoch=3, validation_steps=1))
  finally:
    tf_config.disable_op_determinism()  # process-wide: do not leak into other tests
  first, second = history(tmp_path / "a"), history(tmp_path / "b")
  for row_a, row_b in zip(first, second, strict=True):
    row_a.pop("images_per_second"), row_b.pop("images_per_second")
    assert row_a == row_b
