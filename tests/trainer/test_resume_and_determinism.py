"""A killed run resumes at the next epoch; the same seed with --deterministic repeats a run exactly."""

import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import pytest

from trainer.train import run
from tests.trainer.helpers import history, tiny_config

REPO = pathlib.Path(__file__).resolve().parents[2]

# The trainer's command line, but reading the (unregistered) tiny synthetic set from its folder.
RUN_CLI_ON_BUILDER = textwrap.dedent("""
    import sys
    import tensorflow_datasets as tfds
    from absl import app
    from trainer import flags as trainer_flags
    from trainer.train import run
    builder = tfds.builder_from_directory(sys.argv.pop(1))

    def main(argv):
      run(trainer_flags.config_from_flags(), builder=builder)

    app.run(main)
""")


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
  weights = tmp_path / "b3.weights.h5"
  backbones.get_backbone("effnetb3").build((32, 32, 3), None).save_weights(weights)
  config = tiny_config(tmp_path / "run", weights=str(weights), epochs=3, warmup_epochs=1,
                       steps_per_epoch=2, validation_steps=1)
  with pytest.raises(Killed):
    run(config, extra_callbacks=[KillAfterEpoch(1)], builder=tiny_synthetic)  # epoch 0 warms up, epoch 1 is the first fine-tuning one
  assert not (tmp_path / "run" / "results.json").exists()
  recorder = EpochRecorder()
  run(config, extra_callbacks=[recorder], builder=tiny_synthetic)
  assert recorder.epochs == [2]  # neither the warm-up nor fine-tuning epoch 1 is trained again
  assert [int(row["epoch"]) for row in history(tmp_path / "run")] == [0, 1, 2]
  assert (tmp_path / "run" / "results.json").exists()


def test_same_seed_and_deterministic_give_identical_metrics(tiny_synthetic, tmp_path):
  # Two processes, as a user reruns a command: `python -m trainer` end to end, flags and all.
  for name in ("a", "b"):
    result = subprocess.run(
        [sys.executable, "-c", RUN_CLI_ON_BUILDER, str(tiny_synthetic.data_dir), "--weights=none",
         "--image_size=32", "--batch_size=8", "--epochs=1", "--steps_per_epoch=3", "--validation_steps=1",
         "--deterministic", "--seed=7", "--nosaved_model", f"--model_dir={tmp_path / name}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
  first, second = history(tmp_path / "a"), history(tmp_path / "b")
  for row_a, row_b in zip(first, second, strict=True):
    row_a.pop("images_per_second"), row_b.pop("images_per_second")
    assert row_a == row_b
