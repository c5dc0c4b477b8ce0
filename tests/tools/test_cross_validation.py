"""Cross-validation rotates the folds (each validates once, is never trained on then); the leakage
demonstration's two split plans are what they claim to be."""

import json
import subprocess

import pytest

from cnmc.run_folder import layout
from tests.support import in_process
from tests.support import subprocesses

SMOKE = ["--backbone=small_cnn", "--weights=none", "--image_size=32", "--batch_size=8", "--epochs=1",
         "--steps_per_epoch=2", "--validation_steps=1", "--nosaved_model"]


@pytest.mark.slow
def test_each_fold_validates_once_and_is_never_trained_on(tiny_synthetic, tmp_path):
  result = in_process.module("tools.cross_validate", f"--dataset={tiny_synthetic.data_dir}", f"--cv_dir={tmp_path}",
                             *SMOKE)
  assert result.returncode == 0, result.stderr[-3000:]
  folds = ("fold_0", "fold_1", "fold_2")
  for fold in folds:
    flags = json.loads((tmp_path / fold / layout.CONFIG).read_text())["flags"]
    assert flags["val_split"] == fold
    assert sorted(flags["train_splits"]) == sorted(set(folds) - {fold})
    assert flags["backbone"] == "small_cnn" and flags["image_size"] == 32  # the trainer flags passed through
  summary = json.loads((tmp_path / "cross_validation.json").read_text())
  assert list(summary["folds"]) == list(folds)
  for fold, scores in summary["folds"].items():
    assert fold not in scores["trained_on"]
    assert scores["images"] == tiny_synthetic.info.splits[fold].num_examples
    interval = scores["intervals"]["weighted_f1"]  # two subjects of each class in every tiny fold
    assert interval["value"] == pytest.approx(scores["weighted_f1"]) and interval["low"] <= interval["high"]
  values = [s["accuracy"] for s in summary["folds"].values()]
  assert summary["mean_sd"]["accuracy"]["mean"] == pytest.approx(sum(values) / 3)
  text = (tmp_path / "cross_validation.md").read_text()
  assert "mean ± sd" in text and "| weighted_f1 95 % (subjects) |" in text
  low, high = (summary["folds"]["fold_0"]["intervals"]["weighted_f1"][k] for k in ("low", "high"))
  assert f"| [{low:.2f}, {high:.2f}] |" in text


def test_cross_validation_refuses_flags_it_sets_itself(tmp_path):
  result = in_process.module("tools.cross_validate", "--val_split=fold_1", f"--cv_dir={tmp_path}", *SMOKE)
  assert result.returncode != 0 and "Traceback" not in result.stderr
  assert "--val_split" in result.stderr and "sets the training and validation splits" in result.stderr
  assert not list(tmp_path.iterdir())


def test_leakage_plans_share_subjects_by_image_and_none_by_subject(tiny_synthetic):
  from pipeline.input_pipeline import subjects_and_files
  from tools.leakage_demo import split_plans
  plans = split_plans()
  every_image = subjects_and_files(tiny_synthetic, "fold_0+fold_1+fold_2")[1]
  for kind, runs in plans.items():
    validated = []
    for _, training, held_out in runs:
      train_subjects, train_files = subjects_and_files(tiny_synthetic, "+".join(training))
      val_subjects, val_files = subjects_and_files(tiny_synthetic, held_out)
      assert not train_files & val_files and train_files | val_files == every_image
      shared = train_subjects & val_subjects
      assert (not shared) if kind == "by_subject" else len(shared) > len(val_subjects) / 2  # a random cut leaks
      validated.append(val_files)
    assert set().union(*validated) == every_image and sum(map(len, validated)) == len(every_image)  # once each


@pytest.mark.slow
def test_ctrl_c_stops_the_fold_trainer_and_the_tool_each_in_one_line(tiny_synthetic, tmp_path):
  import os
  import signal
  import sys
  import time
  from tests.support.subprocesses import REPO, environment
  flags = [f for f in SMOKE if not f.startswith(("--epochs", "--steps_per_epoch"))]
  process = subprocess.Popen([sys.executable, "-m", "tools.cross_validate", f"--dataset={tiny_synthetic.data_dir}",
                              f"--cv_dir={tmp_path}", *flags, "--epochs=50", "--steps_per_epoch=30"],
                             cwd=REPO, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True, preexec_fn=subprocesses.as_from_a_terminal)
  deadline = time.monotonic() + 300
  while not (tmp_path / "fold_0" / "backup" / layout.STATE).exists():
    assert process.poll() is None and time.monotonic() < deadline, process.communicate()
    time.sleep(0.2)
  os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C reaches the tool and its fold trainer
  _, stderr = process.communicate(timeout=120)
  errors = [line for line in stderr.splitlines() if line.strip()]
  assert process.returncode == 130 and "Traceback" not in stderr, stderr[-3000:]
  assert len(errors) == 2 and errors[0].startswith("error: Interrupted (Ctrl-C) ") and "Resume with" in errors[0]
  assert errors[1].startswith(f"error: Interrupted (Ctrl-C) while training {tmp_path / 'fold_0'}")
  assert "Rerun the same command to continue" in errors[1]
