"""kill -9 at every kind of write, then the same command again: nothing lost, every epoch exactly once.

Each case starts a real training process (small_cnn, 32 px, pretrained-style weights so the run has a
warm-up and a fine-tuning phase), lets it kill itself with SIGKILL at one point (see
tests/support/train_and_die.py), reruns the same command, and checks the finished run.
"""

import json
import pathlib
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import pipeline.augment  # noqa: F401  (the saved models hold its layer)
import trainer.metrics  # noqa: F401  (and these metrics)
from run_folder import layout
from tests.support.subprocesses import REPO, environment, python
from tests.trainer.helpers import history

DIE = str(REPO / "tests" / "support" / "train_and_die.py")
EPOCHS = 4  # epoch 0 warms up, epochs 1-3 fine-tune

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backbone_weights(tmp_path_factory):
  from trainer import backbones
  path = tmp_path_factory.mktemp("weights") / "small_cnn.weights.h5"
  backbones.get_backbone("small_cnn").build((32, 32, 3), None).save_weights(path)
  return path


def flags(model_dir, weights) -> list[str]:
  return ["--backbone=small_cnn", f"--weights={weights}", "--image_size=32", "--batch_size=8",
          f"--epochs={EPOCHS}", "--warmup_epochs=1", "--steps_per_epoch=3", "--validation_steps=1", "--seed=3",
          "--saved_model", f"--model_dir={model_dir}"]


def train(data_dir, point, model_dir, weights, **kwargs) -> subprocess.CompletedProcess:
  return python(DIE, str(data_dir), point, *flags(model_dir, weights), **kwargs)


def assert_complete(model_dir: pathlib.Path):
  assert [int(row["epoch"]) for row in history(model_dir)] == list(range(1, EPOCHS + 1))
  results = json.loads((model_dir / layout.RESULTS).read_text())
  images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
  for name in (layout.BEST_MODEL, layout.FINAL_MODEL):
    probabilities = keras.saving.load_model(model_dir / name).predict(images, verbose=0)
    assert probabilities.shape == (2, 1) and np.isfinite(probabilities).all()
  assert results["best_epoch"] - 1 in range(EPOCHS)
  assert (model_dir / "saved_model" / "saved_model.pb").exists()
  assert not list(model_dir.rglob("*.partial*")), "a temporary file survived"


@pytest.mark.parametrize("point", [
    "batch:1:1",            # inside the first fine-tuning epoch
    "write:state.json:2",   # epoch 1 written, not yet committed
    "after_commit:1",       # the warm-up committed, its follow-up (best.keras, history.csv) not done
    "torn:weights.h5:3",    # during a backup's write
    "torn:best:1",          # during best.keras' write
    "phase_end:1",          # the warm-up phase returned, fine-tuning not started
    "write:model.keras:1",  # during the export
    "torn:results.json:1",  # the very last write
])
def test_a_kill_at_any_write_loses_nothing(tiny_synthetic, backbone_weights, tmp_path, point):
  killed = train(tiny_synthetic.data_dir, point, tmp_path, backbone_weights)
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
  assert not (tmp_path / layout.RESULTS).exists()
  again = train(tiny_synthetic.data_dir, "none", tmp_path, backbone_weights)
  assert again.returncode == 0, again.stderr[-3000:]
  assert_complete(tmp_path)


def test_kills_at_random_moments_then_a_rerun_finish_the_run(tiny_synthetic, backbone_weights, tmp_path):
  chance = random.Random(20261127)  # seeded: the same moments every time
  for _ in range(3):
    process = subprocess.Popen([sys.executable, DIE, str(tiny_synthetic.data_dir), "none",
                                *flags(tmp_path, backbone_weights)], cwd=REPO, env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(chance.uniform(6.0, 14.0))  # start-up takes ~5 s; the run ~10 s more
    process.send_signal(signal.SIGKILL)
    process.wait()
  final = train(tiny_synthetic.data_dir, "none", tmp_path, backbone_weights)
  assert final.returncode == 0, final.stderr[-3000:]
  assert_complete(tmp_path)


def test_a_damaged_newest_backup_falls_back_to_the_one_before(tiny_synthetic, backbone_weights, tmp_path):
  killed = train(tiny_synthetic.data_dir, "batch:2:0", tmp_path, backbone_weights)  # epochs 0 and 1 committed
  assert killed.returncode == -signal.SIGKILL
  newest = tmp_path / "backup" / "epoch_0002.weights.h5"
  newest.write_bytes(newest.read_bytes()[:1000])  # a disk error, not our write
  again = train(tiny_synthetic.data_dir, "none", tmp_path, backbone_weights)
  assert again.returncode == 0, again.stderr[-3000:]
  assert "cannot be read" in again.stderr
  assert_complete(tmp_path)
