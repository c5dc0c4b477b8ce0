"""tools.calibrate on a trained run, and what evaluate and predict do with its record: the temperature applied to
P(ALL), the threshold chosen on the validation split used for the submission, and no other split choosing it."""

import json
import shutil

import numpy as np
import pytest

from cnmc.evaluation import calibration
from cnmc.run_folder import layout
from tests.support.pictures import assert_picture
from tests.tools.test_evaluation_tools import read_csv, tool, trained_run  # noqa: F401  (the shared run)


@pytest.fixture
def calibrated_run(trained_run, tmp_path):  # noqa: F811
  """A copy of the shared run, calibrated with the best-F1 rule: (its folder, calibration.json, the console)."""
  run = tmp_path / "run"
  shutil.copytree(trained_run, run)
  result = tool("calibrate", f"--model_dir={run}", "--threshold_rule=best_f1")
  assert result.returncode == 0, result.stderr[-3000:]
  return run, json.loads((run / layout.CALIBRATION).read_text()), result.stdout


def test_calibrate_records_the_temperature_and_threshold_chosen_on_validation(calibrated_run, tmp_path):
  run, found, out = calibrated_run
  assert (found["model"], found["split"], found["rule"], found["images"]) == (layout.BEST_MODEL, "validation",
                                                                              "best_f1", 12)
  assert found["model_sha256"] == calibration.model_digest(str(run / layout.BEST_MODEL))
  assert 0.05 <= found["temperature"] <= 20 and 0 < found["threshold"] < 1
  assert found["after"]["ece"] <= found["before"]["ece"] + 1e-9  # T minimised the log loss of these very cells
  assert f"Temperature {found['temperature']:.3f}" in out and f"Threshold {found['threshold']:.4f}" in out
  assert_picture(run / layout.CALIBRATION_PICTURE, run / layout.LOGS_DIR / "calibration", "calibration/reliability")
  # The threshold is the validation split's best weighted F1 under the calibrated P(ALL) evaluate reports.
  result = tool("evaluate", f"--model_dir={run}", f"--output_dir={tmp_path / 'eval'}")
  assert result.returncode == 0, result.stderr[-3000:]
  metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
  assert metrics["threshold"] == found["threshold"] and "tools.calibrate" in metrics["threshold_source"]
  assert "It was chosen on this split, so the scores below are optimistic." in result.stdout
  assert f"Calibrated: {run / layout.BEST_MODEL}: temperature {found['temperature']:.3f}" in result.stdout
  rows = read_csv(tmp_path / "eval" / "predictions.csv")
  labels, probabilities = np.array([int(r["label"]) for r in rows]), np.array([float(r["probability"]) for r in rows])
  scores = calibration.weighted_f1_at(labels, probabilities, np.unique(np.append(probabilities, 0.5)))
  assert metrics["scores"]["plain"]["weighted_f1"] == pytest.approx(scores.max(), abs=1e-6)
  # The temperature was applied: the same file away from its calibration predicts the uncalibrated P(ALL).
  bare = tmp_path / "bare" / layout.BEST_MODEL
  bare.parent.mkdir()
  shutil.copy(run / layout.BEST_MODEL, bare)
  shutil.copy(run / layout.CONFIG, bare.parent)  # the run's record (its dataset), without its calibration
  assert tool("evaluate", f"--model={bare}", f"--output_dir={tmp_path / 'bare-eval'}").returncode == 0
  raw = np.array([float(r["probability"]) for r in read_csv(tmp_path / "bare-eval" / "predictions.csv")])
  np.testing.assert_allclose(probabilities, calibration.apply_temperature(raw, found["temperature"]), atol=2e-6)


def test_predict_uses_the_recorded_threshold_and_no_other_split_changes_it(calibrated_run, tmp_path):
  run, found, _ = calibrated_run
  recorded = (run / layout.CALIBRATION).read_bytes()
  result = tool("predict", f"--model_dir={run}", f"--output_dir={tmp_path / 'submission'}")
  assert result.returncode == 0, result.stderr[-3000:]
  decision = json.loads((tmp_path / "submission" / "decision.json").read_text())
  assert decision["threshold"] == found["threshold"] and "rule best_f1 on validation" in decision["threshold_source"]
  assert decision["calibrations"][0]["temperature"] == found["temperature"]
  rows = read_csv(tmp_path / "submission" / "predictions.csv")
  assert [int(r["predicted_class"]) for r in rows] == [int(float(r["probability_all"]) >= found["threshold"])
                                                       for r in rows]
  assert f"Threshold {found['threshold']:g} (rule best_f1 on validation, from tools.calibrate)." in result.stdout
  assert "Predicting 14 images of test with " in result.stdout  # the split named, not the threshold's origin
  assert tool("evaluate", f"--model_dir={run}", "--split=fold_0", f"--output_dir={tmp_path / 'e'}").returncode == 0
  assert (run / layout.CALIBRATION).read_bytes() == recorded  # scoring another split chose nothing
  # --threshold, given, is the user's choice, and the submission's folder says so.
  result = tool("predict", f"--model_dir={run}", "--threshold=0.3", f"--output_dir={tmp_path / 'given'}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads((tmp_path / "given" / "decision.json").read_text())["threshold_source"] == "--threshold"


def test_calibrate_refuses_the_unlabelled_test_split_and_writes_nothing(trained_run, tmp_path):  # noqa: F811
  run = tmp_path / "run"
  shutil.copytree(trained_run, run)
  result = tool("calibrate", f"--model_dir={run}", "--split=test")
  assert result.returncode == 1 and "unlabelled final test set" in result.stderr
  assert not (run / layout.CALIBRATION).exists()
