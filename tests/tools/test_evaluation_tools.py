"""evaluate, predict and gradcam from the command line, on a model trained for seconds on the tiny set."""

import csv
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from cnmc_tfds.cnmc.layout import FINAL_DIR
from evaluation.scores import classification_scores
from tests.trainer.helpers import tiny_config
from trainer.train import run

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained_run(tiny_synthetic, tmp_path_factory):
  """A small_cnn run at 64 px (a few seconds of training): best.keras, model.keras and config.json."""
  model_dir = tmp_path_factory.mktemp("trained") / "run"
  run(tiny_config(model_dir, backbone="small_cnn", image_size=64, epochs=2, steps_per_epoch=4, validation_steps=0),
      builder=tiny_synthetic)
  return model_dir


def tool(name: str, *args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", f"tools.{name}", *args], cwd=REPO, capture_output=True, text=True,
                        timeout=600, env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"})


def read_csv(path) -> list[dict]:
  with open(path) as f:
    return list(csv.DictReader(f))


def test_evaluate_writes_scores_that_match_its_own_predictions(trained_run, tmp_path):
  out = tmp_path / "eval"
  result = tool("evaluate", f"--model_dir={trained_run}", "--tta", f"--output_dir={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  metrics = json.loads((out / "metrics.json").read_text())
  assert metrics["split"] == "validation" and metrics["model"].endswith("best.keras")
  rows = read_csv(out / "predictions.csv")
  labels = [int(r["label"]) for r in rows]
  for name, column in (("plain", "probability"), ("tta", "probability_tta")):
    expected = classification_scores(labels, [float(r[column]) for r in rows])
    for key in ("accuracy", "weighted_f1", "macro_f1", "auc", "sensitivity", "specificity"):
      assert metrics["scores"][name][key] == pytest.approx(expected[key], abs=1e-5), (name, key)
  assert len(rows) == metrics["scores"]["plain"]["images"] == 12
  # The saved model, reloaded, scores what the trainer measured for that epoch on the same images.
  best = json.loads((trained_run / "results.json").read_text())["best_val_weighted_f1"]
  assert metrics["scores"]["plain"]["weighted_f1"] == pytest.approx(best, abs=1e-4)
  subjects = {r["subject_id"] for r in rows}
  assert {s["subject"] for s in metrics["per_subject"]["plain"]["subjects"]} == subjects
  for picture in ("roc.png", "confusion_matrix.png", "confusion_matrix_tta.png"):
    assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert list((out / "logs").glob("events.out.tfevents.*"))
  assert "weighted_f1" in result.stdout and "subject-level vote accuracy" in result.stdout


def test_evaluate_refuses_the_unlabelled_test_split_and_writes_nothing(trained_run, tmp_path):
  result = tool("evaluate", f"--model_dir={trained_run}", "--split=test", f"--output_dir={tmp_path / 'eval'}")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert "unlabelled final test set" in result.stderr and "tools.predict" in result.stderr
  assert not (tmp_path / "eval").exists()


def test_predict_writes_the_submission_in_numeric_order_and_a_folder_gives_the_same(trained_run, tiny_synthetic,
                                                                                    tmp_path):
  result = tool("predict", f"--model_dir={trained_run}", f"--output_dir={tmp_path / 'split'}")
  assert result.returncode == 0, result.stderr[-3000:]
  rows = read_csv(tmp_path / "split" / "predictions.csv")
  lines = (tmp_path / "split" / "isbi_valid.predict").read_text().splitlines()
  count = tiny_synthetic.info.splits["test"].num_examples
  assert len(lines) == len(rows) == count and set(lines) <= {"0", "1"}
  assert [r["file_name"] for r in rows] == [f"{i}.bmp" for i in range(1, count + 1)]  # 10.bmp after 9.bmp
  assert lines == [r["predicted_class"] for r in rows]
  assert (tmp_path / "split" / "isbi_valid.zip").exists()

  folder = next(pathlib.Path(tiny_synthetic.data_dir).parents[2].rglob(FINAL_DIR))  # the synthetic download
  result = tool("predict", f"--model_dir={trained_run}", f"--images={folder}", f"--output_dir={tmp_path / 'folder'}")
  assert result.returncode == 0, result.stderr[-3000:]
  from_folder = read_csv(tmp_path / "folder" / "predictions.csv")
  assert [r["file_name"] for r in from_folder] == [r["file_name"] for r in rows]
  np.testing.assert_allclose([float(r["probability_all"]) for r in from_folder],
                             [float(r["probability_all"]) for r in rows], atol=1e-5)


def test_predict_names_every_unreadable_image_and_writes_nothing(trained_run, tiny_synthetic, tmp_path):
  source = next(pathlib.Path(tiny_synthetic.data_dir).parents[2].rglob(FINAL_DIR))
  folder = tmp_path / "images"
  shutil.copytree(source, folder)
  (folder / "3.bmp").write_bytes((folder / "3.bmp").read_bytes()[:500])  # truncated
  (folder / "7.bmp").write_text("not an image")
  result = tool("predict", f"--model_dir={trained_run}", f"--images={folder}", f"--output_dir={tmp_path / 'out'}")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert "2 of" in result.stderr and "3.bmp" in result.stderr and "7.bmp" in result.stderr
  assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_gradcam_writes_correct_and_wrong_pictures(trained_run, tmp_path):
  out = tmp_path / "gradcam"
  result = tool("gradcam", f"--model_dir={trained_run}", "--count=3", f"--output_dir={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  cells = json.loads((out / "cells.json").read_text())
  groups = [g for g in ("correct", "wrong") if cells.get(g)]
  assert sum(len(cells.get(g, [])) for g in ("correct", "wrong")) >= 3  # 12 cells: one group has 6 or more
  for group in groups:
    assert len(cells[group]) <= 3 and (out / f"{group}.png").read_bytes()[:4] == b"\x89PNG"
    called_all = [c["probability_all"] >= 0.5 for c in cells[group]]
    right = [a == bool(c["label"]) for a, c in zip(called_all, cells[group])]
    assert all(right) if group == "correct" else not any(right)
  assert list((out / "logs").glob("events.out.tfevents.*"))
