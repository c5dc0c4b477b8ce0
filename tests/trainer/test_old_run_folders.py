"""Run folders written by earlier code (tests/data/run_folders_*): an interrupted one resumes where it stopped,
a finished one is left alone by the trainer and answers the tools."""

import json
import pathlib
import shutil

import numpy as np
import pytest

from cnmc.run_folder import layout, record
from tests.support import in_process
from tests.trainer.helpers import tiny_config

OLD = pathlib.Path(__file__).resolve().parents[1] / "data" / "run_folders_a7b580c"


def copy(name: str, tmp_path) -> pathlib.Path:
  target = tmp_path / name
  shutil.copytree(OLD / name, target)
  return target


@pytest.mark.slow  # two epochs of training
def test_an_interrupted_run_of_older_code_resumes_after_its_last_committed_epoch(tiny_synthetic, tmp_path, capsys):
  from trainer.train import run
  import h5py
  import keras
  folder = copy("interrupted", tmp_path)
  kept = record.read_history(str(folder))
  assert [row["epoch"] for row in kept] == [1]
  with h5py.File(folder / layout.BACKUP_DIR / "epoch_0001.weights.h5") as backup:
    backup_head = backup["layers/dense/vars/0"][()]  # the classification layer's kernel after epoch 1
  at_start = {}

  class HeadAtStart(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
      at_start.setdefault("head", keras.ops.convert_to_numpy(self.model.get_layer("probability").kernel))

  results = run(tiny_config(folder, epochs=4, seed=3), extra_callbacks=[HeadAtStart()],
                builder=tiny_synthetic)  # planned for 3: one more
  np.testing.assert_array_equal(at_start["head"], backup_head)  # the backup's weights, in today's layout
  out = capsys.readouterr().out
  assert f"Resuming {folder} after epoch 1." in out and "--epochs=4: this run was planned for 3 epochs" in out
  history = record.read_history(str(folder))
  assert [row["epoch"] for row in history] == [1, 2, 3, 4] and history[0] == kept[0]  # epoch 1 not trained again
  assert results["best_epoch"] in (1, 2, 3, 4) and (folder / layout.FINAL_MODEL).exists()


def test_a_finished_run_of_older_code_is_left_alone_by_the_trainer(tiny_synthetic, tmp_path):
  folder = copy("finished", tmp_path)
  before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
  result = in_process.module("trainer", f"--model_dir={folder}", "--backbone=small_cnn", "--weights=none",
                             "--dataset=cnmc/synthetic_tiny", "--image_size=32", "--batch_size=8", "--epochs=2",
                             "--warmup_epochs=0", "--steps_per_epoch=3", "--validation_steps=2", "--seed=3",
                             "--profile_steps=0,0", "--nosaved_model")
  assert result.returncode == 0, result.stderr[-2000:]
  assert f"{folder} holds a finished run; nothing to do" in result.stdout
  assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file() and path.name != ".lock"} == {
      path: data for path, data in before.items() if path.name != ".lock"}


def test_a_finished_run_of_older_code_answers_evaluate(tiny_synthetic, tmp_path):
  folder = copy("finished", tmp_path)
  out = tmp_path / "eval"
  result = in_process.module("tools.evaluate", f"--model_dir={folder}", f"--dataset={tiny_synthetic.data_dir}",
                             f"--output_dir={out}")
  assert result.returncode == 0, result.stderr[-2000:]
  metrics = json.loads((out / "metrics.json").read_text())
  assert metrics["models"][0].endswith(layout.BEST_MODEL) and metrics["scores"]["plain"]["images"] == 12


def test_a_new_epochs_moves_an_unfinished_runs_end_and_is_refused_for_a_finished_one(tmp_path):
  from trainer import run_dir
  from trainer.errors import TrainerError
  interrupted, finished = copy("interrupted", tmp_path), copy("finished", tmp_path)
  assert run_dir.check_model_dir(tiny_config(interrupted, epochs=3, seed=3), str(interrupted)) is None  # as planned
  assert run_dir.check_model_dir(tiny_config(interrupted, epochs=5, seed=3), str(interrupted)) == 3  # said, then on
  assert run_dir.check_model_dir(tiny_config(finished, epochs=2, seed=3), str(finished)) is None  # nothing to do
  with pytest.raises(TrainerError, match=f"--model_dir={finished} holds a finished run of 2 epochs; --epochs=4 "
                                         "cannot continue it"):
    run_dir.check_model_dir(tiny_config(finished, epochs=4, seed=3), str(finished))
