"""Faults and misuse: one clear line and a non-zero exit, no traceback, and nothing a user had is lost."""

import json
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from run_folder import layout
from tests.support.subprocesses import REPO, environment, module
from tests.trainer.helpers import history, tiny_config
from trainer import checkpoints
from trainer.errors import TrainerError
from trainer.train import run

SMALL = ["--backbone=small_cnn", "--weights=none", "--image_size=32", "--batch_size=8", "--epochs=2",
         "--steps_per_epoch=3", "--validation_steps=1", "--nosaved_model"]


def trainer(data_dir, *flags: str) -> subprocess.CompletedProcess:
  return module("trainer", f"--dataset={data_dir}", *SMALL, *flags)


def assert_one_clear_error(result, *phrases: str):
  assert result.returncode == 1, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  for phrase in phrases:
    assert phrase in result.stderr, result.stderr[-2000:]


@pytest.mark.slow  # the in-process divergence test below is the fast one
def test_a_diverging_run_stops_saying_where_and_what_to_try(tiny_synthetic, tmp_path):
  result = trainer(tiny_synthetic.data_dir, "--learning_rate=1e30", "--optimizer=sgd", f"--model_dir={tmp_path}")
  assert_one_clear_error(result, "Training diverged", "phase train, epoch 1", "--learning_rate",
                         "--mixed_precision=float32")
  assert not (tmp_path / layout.RESULTS).exists() and not (tmp_path / layout.FINAL_MODEL).exists()


class PoisonAfterEpoch(keras.callbacks.Callback):
  """Makes the weights NaN once `epoch` has been committed, as a diverging step would."""

  def __init__(self, epoch):
    super().__init__()
    self.epoch = epoch

  def on_epoch_end(self, epoch, logs=None):
    if epoch == self.epoch:
      for weight in self.model.trainable_weights:
        weight.assign(np.full(weight.shape, np.nan, weight.dtype))


def test_divergence_keeps_the_last_good_epoch_and_best_model(tiny_synthetic, tmp_path):
  config = tiny_config(tmp_path, backbone="small_cnn", epochs=3)
  with pytest.raises(checkpoints.TrainingDiverged, match="epoch 2, step 1"):
    run(config, extra_callbacks=[PoisonAfterEpoch(0)], builder=tiny_synthetic)
  assert [int(row["epoch"]) for row in history(tmp_path)] == [1]
  images = np.zeros((1, 32, 32, 3), np.uint8)
  import pipeline.augment  # noqa: F401  (the model holds its layer)
  import trainer.metrics  # noqa: F401
  assert np.isfinite(keras.saving.load_model(tmp_path / layout.BEST_MODEL).predict(images, verbose=0)).all()
  assert not (tmp_path / layout.RESULTS).exists()


@pytest.mark.parametrize("flag,message", [
    ("--val_split=validation[:0]", "--val_split=validation[:0] holds 0 HEM and 0 ALL images"),
    pytest.param("--train_splits=fold_0[:1]", "--train_splits=fold_0[:1] holds", marks=pytest.mark.slow),
])
def test_splits_without_both_classes_are_refused_with_their_counts(tiny_synthetic, tmp_path, flag, message):
  assert_one_clear_error(trainer(tiny_synthetic.data_dir, flag, f"--model_dir={tmp_path}"), message, "both classes")


def test_damaged_run_files_are_named_as_damaged(tiny_synthetic, tmp_path):
  (tmp_path / layout.CONFIG).write_text("")
  (tmp_path / layout.RESULTS).write_text("{}")  # a finished run: its record of settings matters
  assert_one_clear_error(trainer(tiny_synthetic.data_dir, f"--model_dir={tmp_path}"),
                         f"{tmp_path}/config.json is damaged")


def test_an_unwritable_model_dir_fails_before_the_data_is_looked_at(tmp_path):
  (tmp_path / "a_file").write_text("")
  result = module("trainer", "--dataset=cnmc/real", f"--data_dir={tmp_path}/nothing_built", *SMALL,
                  f"--model_dir={tmp_path}/a_file/run")
  assert_one_clear_error(result, f"--model_dir={tmp_path}/a_file/run: {tmp_path}/a_file is a file")
  result = module("trainer", "--dataset=cnmc/real", f"--data_dir={tmp_path}/nothing_built", *SMALL,
                  f"--model_dir={tmp_path}/a_file")
  assert_one_clear_error(result, f"--model_dir={tmp_path}/a_file: it is a file, not a folder")


@pytest.mark.slow
def test_a_second_run_in_the_same_model_dir_is_refused_and_the_first_finishes(tiny_synthetic, tmp_path):
  first = subprocess.Popen([sys.executable, "-m", "trainer", f"--dataset={tiny_synthetic.data_dir}", *SMALL,
                            "--epochs=40", f"--model_dir={tmp_path}"], cwd=REPO, env=environment(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.monotonic() + 120
    while not (tmp_path / "backup" / layout.STATE).exists():  # the first is training
      assert time.monotonic() < deadline and first.poll() is None
      time.sleep(0.5)
    second = trainer(tiny_synthetic.data_dir, "--epochs=40", f"--model_dir={tmp_path}")
    assert_one_clear_error(second, "is in use by another training run", f"pid {first.pid}")
  finally:
    first.send_signal(signal.SIGKILL)
    first.wait()
  rows = [int(row["epoch"]) for row in history(tmp_path)]
  assert rows == list(range(1, len(rows) + 1))  # the refused run wrote nothing into the first's history


def test_a_damaged_results_file_is_named(tiny_synthetic, tmp_path):
  run(tiny_config(tmp_path, backbone="small_cnn", epochs=1), builder=tiny_synthetic)
  (tmp_path / layout.RESULTS).write_text("{")
  before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
  with pytest.raises(TrainerError, match="results.json is damaged"):
    run(tiny_config(tmp_path, backbone="small_cnn", epochs=1), builder=tiny_synthetic)
  after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
  assert after == before  # every file of the run as it was, byte for byte


BUILD_TINY = """
import sys
from cnmc_tfds.cnmc import synthetic_tree
from cnmc_tfds.loading import load_builder
from tests.cnmc_tfds.helpers import TINY
plan = synthetic_tree.plan_cells
synthetic_tree.plan_cells = lambda *args, **kwargs: plan(**TINY)  # seconds, not half a minute
builder = load_builder("cnmc/synthetic", data_dir=sys.argv[1])
print("EXAMPLES", sum(split.num_examples for split in builder.info.splits.values()))
"""


@pytest.mark.slow
def test_two_processes_building_one_dataset_build_it_once(tmp_path):
  processes = [subprocess.Popen([sys.executable, "-c", BUILD_TINY, str(tmp_path)], cwd=REPO, env=environment(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
  outputs = [process.communicate(timeout=600) for process in processes]
  assert [process.returncode for process in processes] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
  counts = {line for out, _ in outputs for line in out.splitlines() if line.startswith("EXAMPLES")}
  assert len(counts) == 1  # both read the same, complete dataset
  assert sum("Waiting for another build" in err for _, err in outputs) == 1  # the second waited its turn
  assert len(list((tmp_path / "cnmc" / "synthetic").glob("*/dataset_info.json"))) == 1


def test_a_run_folder_with_history_but_no_commit_record_is_refused_and_left_alone(tiny_synthetic, tmp_path):
  (tmp_path / layout.HISTORY).write_text("epoch,loss\n0,0.7\n")
  with pytest.raises(TrainerError, match="cannot be resumed safely"):
    run(tiny_config(tmp_path), builder=tiny_synthetic)
  assert (tmp_path / layout.HISTORY).read_text() == "epoch,loss\n0,0.7\n"


@pytest.mark.slow
def test_a_failed_start_leaves_nothing_behind_and_blocks_not_the_command_its_error_advises(tiny_synthetic, tmp_path):
  offline = {"KERAS_HOME": str(tmp_path / "keras")}  # no cached ImageNet weights, and no network here
  effnet = [f"--dataset={tiny_synthetic.data_dir}", "--backbone=effnetb3", "--image_size=32", "--batch_size=8",
            "--epochs=2", "--warmup_epochs=1", "--steps_per_epoch=1", "--validation_steps=1", "--nosaved_model",
            "--profile_steps=0,0"]
  failed = module("trainer", *effnet, f"--model_dir={tmp_path}/new", env=offline)
  assert_one_clear_error(failed, "Could not download the ImageNet weights", "--weights=none")
  assert not (tmp_path / "new").exists()  # the folder it made is gone again
  (tmp_path / "mine").mkdir()  # a folder the user made stays, with the failed start's record in it
  failed = module("trainer", *effnet, f"--model_dir={tmp_path}/mine", env=offline)
  assert_one_clear_error(failed, "--weights=none")
  assert json.loads((tmp_path / "mine" / layout.CONFIG).read_text())["flags"]["weights"] == "imagenet"
  advised = module("trainer", *effnet, "--weights=none", f"--model_dir={tmp_path}/mine", env=offline)
  assert advised.returncode == 0, advised.stderr[-2000:]
  assert "holds no finished epoch (an earlier start failed or was stopped): starting afresh" in advised.stdout
  assert json.loads((tmp_path / "mine" / layout.CONFIG).read_text())["flags"]["weights"] == "none"


@pytest.mark.slow  # tests/trainer/test_run_dir.py checks the folder's removal in-process
def test_an_unbuilt_dataset_leaves_no_run_folder(tmp_path):
  result = module("trainer", "--dataset=cnmc/real", f"--data_dir={tmp_path}/data", *SMALL,
                  f"--model_dir={tmp_path}/run")
  assert_one_clear_error(result, "tfds build cnmc/real --imports=cnmc_tfds")
  assert not (tmp_path / "run").exists()


def damaged_copy(tiny_synthetic, tmp_path, damage) -> tuple:
  """A copy of the tiny dataset with its fold_0 shard damaged by damage(bytes) -> bytes."""
  folder = tmp_path / "cnmc" / "synthetic_tiny" / "1.0.0"
  shutil.copytree(tiny_synthetic.data_dir, folder)
  shard = next(folder.glob("cnmc-fold_0.tfrecord-*"))
  shard.write_bytes(damage(shard.read_bytes()))
  return folder, shard


def test_a_shard_cut_short_is_named_with_the_command_that_rebuilds_it(tiny_synthetic, tmp_path):
  folder, shard = damaged_copy(tiny_synthetic, tmp_path, lambda data: data[:len(data) // 2])  # a copy cut short
  result = trainer(folder, f"--model_dir={tmp_path}/run")
  assert_one_clear_error(result, f"{folder} is damaged: {shard}",
                         f"tfds build cnmc/synthetic_tiny --imports=cnmc_tfds --data_dir={tmp_path} --overwrite")
  assert not (tmp_path / "run").exists()


@pytest.mark.slow  # the cut-short shard's test is the fast one
def test_a_shard_damaged_inside_is_named_once_read(tiny_synthetic, tmp_path):
  def flip(data: bytes) -> bytes:  # the same size: only reading the records finds it (their checksums)
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:]
  folder, shard = damaged_copy(tiny_synthetic, tmp_path, flip)
  result = trainer(folder, f"--model_dir={tmp_path}/run")
  assert_one_clear_error(result, f"{folder} is damaged: {shard} cannot be read", "--overwrite")
