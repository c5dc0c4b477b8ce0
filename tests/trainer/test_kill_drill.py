"""kill -9 at every kind of write, then the same command again: nothing lost, every epoch exactly once.

Each drill runs real training processes (small_cnn, 32 px, pretrained-style weights so the run has a
warm-up and a fine-tuning phase) that kill themselves with SIGKILL at a chosen write (see
tests/support/train_and_die.py). After every kill the drill checks that it landed where it was aimed (the
epochs committed, no results.json), and that the next process resumed after exactly those epochs instead
of starting over; the last one (after a damaged backup, in the first drill) finishes the run, which must
then be complete.
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
from cnmc.run_folder import layout
from tests.support.subprocesses import REPO, environment, python
from tests.trainer.helpers import history

DIE = str(REPO / "tests" / "support" / "train_and_die.py")
EPOCHS = 4  # epoch 1 warms up, epochs 2-4 fine-tune

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backbone_weights(tmp_path_factory):
  from trainer import backbones
  path = tmp_path_factory.mktemp("weights") / "small_cnn.weights.h5"
  backbones.get_backbone("small_cnn").build((32, 32, 3), None).save_weights(path)
  return path


# Bit-exact, with the state a resume must carry beyond the weights: the optimizer's moments, the weights'
# averages (EMA), gradients accumulated across an epoch's end (3 batches, updates of 2), the data stream's
# position and the augmentation's and dropout's random draws.
EXACT = ["--deterministic", "--ema_decay=0.5", "--accumulation_steps=2"]


def flags(model_dir, weights, epochs: int = EPOCHS, *more: str) -> list[str]:
  return ["--backbone=small_cnn", f"--weights={weights}", "--image_size=32", "--batch_size=8",
          f"--epochs={epochs}", "--warmup_epochs=1", "--steps_per_epoch=3", "--validation_steps=1", "--seed=3",
          "--saved_model", f"--model_dir={model_dir}", *more]


def train(data_dir, point, model_dir, weights, epochs: int = EPOCHS, *more: str) -> subprocess.CompletedProcess:
  return python(DIE, str(data_dir), point, *flags(model_dir, weights, epochs, *more))


def committed(model_dir: pathlib.Path) -> int:
  """Epochs in the commit record (0 if none was written)."""
  path = model_dir / layout.BACKUP_DIR / layout.STATE
  return len(json.loads(path.read_text())["history"]) if path.exists() else 0


def assert_resumed(result: subprocess.CompletedProcess, model_dir: pathlib.Path, kept: int, epochs: int = EPOCHS):
  """The process continued after the `kept` committed epochs and trained none of them again."""
  if kept:
    assert f"Resuming {model_dir} after epoch {kept}." in result.stdout, result.stdout[-3000:]
  else:
    assert "Resuming" not in result.stdout
  trained = {int(line.split()[1].split("/")[0]) for line in result.stdout.replace("\r", "\n").splitlines()
             if line.startswith("Epoch ") and line.rstrip().endswith(f"/{epochs}")}
  assert min(trained, default=epochs + 1) > kept, (kept, sorted(trained))


def assert_complete(model_dir: pathlib.Path, epochs: int = EPOCHS) -> None:
  assert [int(row["epoch"]) for row in history(model_dir)] == list(range(1, epochs + 1))
  results = json.loads((model_dir / layout.RESULTS).read_text())
  images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
  for name in (layout.BEST_MODEL, layout.FINAL_MODEL):
    probabilities = keras.saving.load_model(model_dir / name).predict(images, verbose=0)
    assert probabilities.shape == (2, 1) and np.isfinite(probabilities).all()
  assert results["best_epoch"] - 1 in range(epochs)
  assert (model_dir / layout.SAVED_MODEL / "saved_model.pb").exists()
  assert not list(model_dir.rglob("*.partial*")), "a temporary file survived"


# One run, killed at each kind of write in turn; each process resumes what the kill before it left. The
# counts are per process, so each point is the first (or n-th) such write after the resume.
KILLS = [
    ("torn:best:1", 0),          # epoch 1's best.keras half-written, before the first commit
    ("phase_end:1", 1),          # the warm-up phase returned, fine-tuning not started
    ("batch:1:1", 1),            # inside epoch 2, the first fine-tuning one
    ("write:state.json:1", 1),   # epoch 2's commit record complete but not renamed into place
    ("after_commit:2", 2),       # epoch 2 committed, its follow-up not done (the 1st: the resume finishing epoch 1)
    ("torn:weights.h5:2", 3),    # epoch 4's backup half-written (epoch 3 committed before it)
    ("write:model.keras:1", 4),  # during the export
    ("torn:results.json:1", 4),  # the very last write
]


def test_a_kill_at_any_write_loses_nothing_and_the_run_ends_as_if_never_killed(tiny_synthetic, backbone_weights,
                                                                                  tmp_path):
  killed_dir, whole_dir = tmp_path / "killed", tmp_path / "whole"
  whole = subprocess.Popen([sys.executable, DIE, str(tiny_synthetic.data_dir), "none",  # meanwhile, never killed
                            *flags(whole_dir, backbone_weights, EPOCHS, *EXACT)], cwd=REPO, env=environment(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  kept = 0
  for point, expected in KILLS:
    killed = train(tiny_synthetic.data_dir, point, killed_dir, backbone_weights, EPOCHS, *EXACT)
    assert killed.returncode == -signal.SIGKILL, (point, killed.stderr[-3000:])
    assert_resumed(killed, killed_dir, kept)
    kept = committed(killed_dir)
    assert kept == expected, f"the kill at {point} left {kept} committed epochs, not {expected}"
    assert not (killed_dir / layout.RESULTS).exists()
  # Then a disk error, not our write: the newest backup is damaged; the one before it is the fallback.
  newest = killed_dir / layout.BACKUP_DIR / f"epoch_{kept:04d}.weights.h5"
  newest.write_bytes(newest.read_bytes()[:1000])
  again = train(tiny_synthetic.data_dir, "none", killed_dir, backbone_weights, EPOCHS, *EXACT)
  assert again.returncode == 0, again.stderr[-3000:]
  assert "cannot be read" in again.stderr
  assert_resumed(again, killed_dir, kept - 1)  # the last epoch is trained again from the backup before it
  assert_complete(killed_dir)
  assert whole.wait(timeout=600) == 0, whole.stderr.read()[-3000:]
  assert_same_run(killed_dir, whole_dir)


def assert_same_run(first: pathlib.Path, second: pathlib.Path) -> None:
  """The same history (timings aside), and best.keras and model.keras bit for bit."""
  rows = [[{k: v for k, v in row.items() if k not in ("images_per_second", "train_seconds")} for row in history(folder)]
          for folder in (first, second)]
  assert rows[0] == rows[1]
  for name in (layout.BEST_MODEL, layout.FINAL_MODEL):
    weights = [keras.saving.load_model(folder / name).get_weights() for folder in (first, second)]
    for a, b in zip(*weights, strict=True):
      np.testing.assert_array_equal(a, b, err_msg=name)


def test_kills_at_random_moments_then_a_rerun_finish_the_run(tiny_synthetic, backbone_weights, tmp_path):
  chance, epochs, kept = random.Random(20261129), 9, 0  # seeded: the same moments every time
  for _ in range(3):
    process = subprocess.Popen([sys.executable, DIE, str(tiny_synthetic.data_dir), "none",
                                *flags(tmp_path, backbone_weights, epochs)], cwd=REPO, env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while committed(tmp_path) == kept and process.poll() is None:  # until this process has committed an epoch
      time.sleep(0.02)
    time.sleep(chance.uniform(0.0, 0.5))  # then anywhere in the next epoch or two (one takes ~0.3 s here)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run ended before the kill"
    assert committed(tmp_path) > kept and not (tmp_path / layout.RESULTS).exists()
    kept = committed(tmp_path)
  final = train(tiny_synthetic.data_dir, "none", tmp_path, backbone_weights, epochs)
  assert final.returncode == 0, final.stderr[-3000:]
  assert_resumed(final, tmp_path, kept, epochs)
  assert_complete(tmp_path, epochs)
