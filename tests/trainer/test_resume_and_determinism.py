"""A killed run resumes at the next epoch; the same seed with --deterministic repeats a run exactly."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import pipeline.augment  # noqa: F401  (the saved models hold its layer)
import trainer.metrics  # noqa: F401  (and these metrics)
from run_folder import layout
from tests.support.subprocesses import REPO, environment
from tests.trainer.helpers import history, tiny_config
from trainer.train import run


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


def test_a_killed_run_resumes_at_the_next_epoch_and_skips_the_finished_warmup(tiny_synthetic, tmp_path):
  # Two phases need pretrained weights: use a file of weights saved from a random backbone.
  from trainer import backbones
  weights = tmp_path / "small_cnn.weights.h5"
  backbones.get_backbone("small_cnn").build((32, 32, 3), None).save_weights(weights)
  config = tiny_config(tmp_path / "run", backbone="small_cnn", weights=str(weights), epochs=3, warmup_epochs=1,
                       steps_per_epoch=2, validation_steps=1)
  with pytest.raises(Killed):
    # Epoch 0 warms up, epoch 1 is the first fine-tuning one.
    run(config, extra_callbacks=[KillAfterEpoch(1)], builder=tiny_synthetic)
  assert not (tmp_path / "run" / layout.RESULTS).exists()
  recorder = EpochRecorder()
  run(config, extra_callbacks=[recorder], builder=tiny_synthetic)
  assert recorder.epochs == [2]  # neither the warm-up nor fine-tuning epoch 1 is trained again
  assert [int(row["epoch"]) for row in history(tmp_path / "run")] == [1, 2, 3]
  assert (tmp_path / "run" / layout.RESULTS).exists()


@pytest.mark.parametrize("backbone", ["small_cnn", pytest.param("effnetb3", marks=pytest.mark.slow)])
def test_same_seed_and_deterministic_give_identical_metrics_and_weights(tiny_synthetic, tmp_path, backbone):
  # Two processes, as a user reruns a command: `python -m trainer` end to end, flags and all; side by side,
  # since a deterministic result may not depend on what else the machine does.
  processes = [subprocess.Popen([sys.executable, "-m", "trainer", f"--dataset={tiny_synthetic.data_dir}",
                                 f"--backbone={backbone}", "--weights=none", "--image_size=32", "--batch_size=8",
                                 "--epochs=2", "--steps_per_epoch=3", "--validation_steps=1", "--deterministic",
                                 "--seed=7", "--nosaved_model", f"--model_dir={tmp_path / name}"],
                                cwd=REPO, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True) for name in ("a", "b")]
  for process in processes:
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
  first, second = history(tmp_path / "a"), history(tmp_path / "b")
  assert len(first) == 2
  for row_a, row_b in zip(first, second, strict=True):
    row_a.pop("images_per_second"), row_b.pop("images_per_second")  # a timing, not a result
    assert row_a == row_b  # exactly: bit-identical runs
  weights_a = keras.saving.load_model(tmp_path / "a" / layout.FINAL_MODEL).get_weights()
  weights_b = keras.saving.load_model(tmp_path / "b" / layout.FINAL_MODEL).get_weights()
  for a, b in zip(weights_a, weights_b, strict=True):
    np.testing.assert_array_equal(a, b)
