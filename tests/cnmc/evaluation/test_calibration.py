"""Calibration (cnmc/evaluation/calibration.py): temperature scaling recovers a known temperature, ECE and Brier
fall with it, the threshold rule maximises weighted F1 as scikit-learn scores it, and a calibration holds only for
the model file it was fitted on."""

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn import metrics

from cnmc.evaluation import calibration
from cnmc.evaluation.errors import EvaluationError
from cnmc.run_folder import layout


def overconfident(temperature: float, cells: int = 20000, seed: int = 0):
  """Labels drawn from sigmoid(z) and the P(ALL) of a model whose logits are z times `temperature`."""
  rng = np.random.default_rng(seed)
  z = rng.normal(0.0, 2.0, cells)
  labels = (rng.uniform(size=cells) < 1 / (1 + np.exp(-z))).astype(np.int64)
  return labels, 1 / (1 + np.exp(-temperature * z))


@pytest.mark.parametrize("true_temperature", [0.5, 2.5])
def test_temperature_scaling_recovers_a_known_temperature_and_improves_ece_and_brier(true_temperature):
  labels, probabilities = overconfident(true_temperature)
  temperature = calibration.fit_temperature(labels, probabilities)
  assert temperature == pytest.approx(true_temperature, rel=0.05)
  rescaled = calibration.apply_temperature(probabilities, temperature)
  before, after = (calibration.calibration_scores(labels, p) for p in (probabilities, rescaled))
  assert after["ece"] < before["ece"] / 3 and after["ece"] < 0.02
  assert after["brier"] < before["brier"]
  assert np.all(np.diff(rescaled[np.argsort(probabilities)]) >= 0)  # the order of the cells is kept


def test_a_calibrated_model_keeps_its_temperature_near_one_and_ece_near_zero():
  labels, probabilities = overconfident(1.0)
  assert calibration.fit_temperature(labels, probabilities) == pytest.approx(1.0, abs=0.05)
  assert calibration.expected_calibration_error(labels, probabilities) < 0.02
  np.testing.assert_allclose(calibration.apply_temperature([0.1, 0.5, 0.9], 1.0), [0.1, 0.5, 0.9], atol=1e-7)


def test_the_reliability_table_counts_every_cell_once_and_ece_is_its_weighted_gap():
  labels, probabilities = np.array([0, 0, 1, 1, 1]), np.array([0.05, 0.1, 0.55, 0.9, 1.0])
  table = calibration.reliability(labels, probabilities, bins=10)
  assert table["cells"] == [1, 1, 1, 2]  # 1.0 falls in the last bin
  assert table["share_all"] == [0.0, 0.0, 1.0, 1.0]
  expected = (0.05 + 0.1 + 0.45 + 2 * abs(0.95 - 1.0)) / 5
  assert calibration.expected_calibration_error(labels, probabilities, bins=10) == pytest.approx(expected)
  assert calibration.brier_score(labels, probabilities) == pytest.approx(np.mean((probabilities - labels) ** 2))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=1, max_size=40))
def test_weighted_f1_at_every_threshold_is_scikit_learns(cells):
  labels, probabilities = (np.array(column) for column in zip(*cells, strict=True))
  thresholds = np.unique(np.concatenate([probabilities, [0.0, 0.5, 1.5]]))
  expected = [metrics.f1_score(labels, (probabilities >= t).astype(int), labels=[0, 1], average="weighted",
                               zero_division=0.0) for t in thresholds]
  np.testing.assert_allclose(calibration.weighted_f1_at(labels, probabilities, thresholds), expected, atol=1e-12)


def test_the_best_f1_rule_takes_the_best_threshold_nearest_one_half_and_the_default_rule_takes_one_half():
  labels, probabilities = overconfident(1.0, cells=400, seed=3)
  probabilities = np.clip(probabilities + 0.2, 0, 1)  # a shifted model: 0.5 calls too many ALL
  chosen = calibration.choose_threshold(labels, probabilities, "best_f1")
  at = lambda t: metrics.f1_score(labels, (probabilities >= t).astype(int), average="weighted")  # noqa: E731
  assert at(chosen) == pytest.approx(max(at(t) for t in np.unique(probabilities)))
  assert at(chosen) > at(0.5) and chosen > 0.55
  assert calibration.choose_threshold(labels, probabilities, "0.5") == 0.5
  assert calibration.choose_threshold([0, 1], [0.2, 0.8], "best_f1") == pytest.approx(0.5)  # a tie: nearest 0.5
  with pytest.raises(ValueError, match="unknown threshold rule 'median'"):
    calibration.choose_threshold(labels, probabilities, "median")


def test_a_calibration_holds_for_the_file_it_was_fitted_on_only(tmp_path, capsys):
  model = tmp_path / layout.BEST_MODEL
  model.write_bytes(b"a model")
  assert calibration.for_model(str(model)) is None  # none recorded
  found = {"model": layout.BEST_MODEL, "model_sha256": calibration.model_digest(str(model)), "temperature": 2.0,
           "threshold": 0.4, "rule": "best_f1", "split": "validation", "images": 10}
  (tmp_path / layout.CALIBRATION).write_text(json.dumps(found))
  assert calibration.for_model(str(model)) == found
  assert calibration.for_model(str(tmp_path / layout.FINAL_MODEL)) is None  # another file of the run
  model.write_bytes(b"a model trained on")
  assert calibration.for_model(str(model)) is None
  assert "was fitted on an earlier best.keras: not applied" in capsys.readouterr().err
  (tmp_path / layout.CALIBRATION).write_text("{")
  with pytest.raises(EvaluationError, match="calibration.json is damaged"):
    calibration.for_model(str(model))
