"""How far P(ALL) can be taken at its word, and the decision threshold, both settled on the validation split once.

Temperature scaling (Guo et al., 2017): P(ALL) = sigmoid(logit / T), with the one T that minimises the
validation split's log loss; it moves no cell across 0.5, so it changes the calls only through a threshold
chosen after it. Expected calibration error: the cell-weighted mean gap between the mean P(ALL) and the share of
ALL cells in 15 equal-width bins of P(ALL). Brier score: the mean squared error of P(ALL).

The threshold rule is one of RULES: "0.5" (as the challenge's entries called cells), or "best_f1", the threshold
that maximises the validation split's weighted F1 (half-way between two cells' P(ALL); ties: the one nearest
0.5). The test set never chooses it.
"""

import hashlib
import os
import sys

import numpy as np
from scipy import optimize

from cnmc_tfds.vocabulary import ALL, HEM
from cnmc.evaluation.errors import EvaluationError
from cnmc.run_folder import layout, record

RULES = ("0.5", "best_f1")
BINS = 15
_EDGE = 1e-7  # P(ALL) is clipped into (0, 1) by this much before its logit is taken


def logits(probabilities) -> np.ndarray:
  p = np.clip(np.asarray(probabilities, np.float64), _EDGE, 1.0 - _EDGE)
  return np.log(p) - np.log1p(-p)


def apply_temperature(probabilities, temperature: float) -> np.ndarray:
  """P(ALL) rescaled: sigmoid(logit / temperature)."""
  return 1.0 / (1.0 + np.exp(-logits(probabilities) / temperature))


def fit_temperature(labels, probabilities) -> float:
  """The temperature in [0.05, 20] that minimises the log loss of the labels under the rescaled P(ALL)."""
  labels, z = np.asarray(labels, np.float64), logits(probabilities)

  def log_loss(log_temperature: float) -> float:
    scaled = z / np.exp(log_temperature)
    return float(np.mean(np.logaddexp(0.0, scaled) - labels * scaled))  # -log sigmoid, stably

  found = optimize.minimize_scalar(log_loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded",
                                   options={"xatol": 1e-6})
  return float(np.exp(found.x))


def reliability(labels, probabilities, bins: int = BINS) -> dict:
  """Per equal-width bin of P(ALL): cells, mean P(ALL), share of ALL; empty bins left out.
  Returns {"cells", "mean_probability", "share_all"} of equal-length lists."""
  labels, p = np.asarray(labels, np.float64), np.asarray(probabilities, np.float64)
  which = np.minimum((p * bins).astype(int), bins - 1)
  cells = np.bincount(which, minlength=bins)
  used = cells > 0
  mean = np.bincount(which, weights=p, minlength=bins)[used] / cells[used]
  share = np.bincount(which, weights=labels, minlength=bins)[used] / cells[used]
  return {"cells": cells[used].tolist(), "mean_probability": mean.tolist(), "share_all": share.tolist()}


def expected_calibration_error(labels, probabilities, bins: int = BINS) -> float:
  table = reliability(labels, probabilities, bins)
  cells = np.asarray(table["cells"], np.float64)
  gaps = np.abs(np.asarray(table["mean_probability"]) - np.asarray(table["share_all"]))
  return float(np.sum(cells * gaps) / np.sum(cells))


def brier_score(labels, probabilities) -> float:
  return float(np.mean((np.asarray(probabilities, np.float64) - np.asarray(labels, np.float64)) ** 2))


def calibration_scores(labels, probabilities) -> dict:
  return {"ece": expected_calibration_error(labels, probabilities), "brier": brier_score(labels, probabilities)}


def choose_threshold(labels, probabilities, rule: str) -> float:
  """The threshold `rule` (one of RULES) picks on these (validation) cells; a cell is ALL at P(ALL) >= it."""
  if rule not in RULES:
    raise ValueError(f"unknown threshold rule {rule!r}; one of {', '.join(RULES)}")
  if rule == "0.5":
    return 0.5
  labels, p = np.asarray(labels, np.int64), np.asarray(probabilities, np.float64)
  values = np.unique(p)
  # Half-way between neighbouring P(ALL) values: a cell's own rounded P(ALL) elsewhere never falls on its edge.
  candidates = np.unique(np.concatenate([[0.0, 0.5, 1.0], (values[:-1] + values[1:]) / 2]))
  scores = weighted_f1_at(labels, p, candidates)
  best = np.flatnonzero(scores >= scores.max() - 1e-12)
  return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def weighted_f1_at(labels, probabilities, thresholds) -> np.ndarray:
  """scikit-learn's weighted F1 (zero_division 0) of the calls P(ALL) >= t, for every t at once."""
  labels, p = np.asarray(labels, np.int64), np.asarray(probabilities, np.float64)
  thresholds = np.asarray(thresholds, np.float64)
  tp = np.sum(labels == ALL) - np.searchsorted(np.sort(p[labels == ALL]), thresholds, side="left")  # ALL called ALL
  fp = np.sum(labels == HEM) - np.searchsorted(np.sort(p[labels == HEM]), thresholds, side="left")  # HEM called ALL
  fn, tn = np.sum(labels == ALL) - tp, np.sum(labels == HEM) - fp

  def f1(hits, false_alarms, misses):
    denominator = 2 * hits + false_alarms + misses
    return np.divide(2 * hits, denominator, out=np.zeros(len(thresholds)), where=denominator > 0)

  return (np.sum(labels == ALL) * f1(tp, fp, fn) + np.sum(labels == HEM) * f1(tn, fn, fp)) / len(labels)


def fit(labels, probabilities, rule: str) -> dict:
  """What tools.calibrate records: the temperature fitted on these (validation) cells, the threshold `rule`
  picks on the rescaled P(ALL), and the calibration before and after, with the reliability tables."""
  temperature = fit_temperature(labels, probabilities)
  calibrated = apply_temperature(probabilities, temperature)
  return {"temperature": temperature, "threshold": choose_threshold(labels, calibrated, rule), "rule": rule,
          "images": int(len(labels)),
          "before": {**calibration_scores(labels, probabilities), "reliability": reliability(labels, probabilities)},
          "after": {**calibration_scores(labels, calibrated), "reliability": reliability(labels, calibrated)}}


def model_digest(path: str) -> str:
  """sha256 of a model file: a calibration holds for the file it was fitted on, not for a later best.keras."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def for_model(model_path: str) -> dict | None:
  """The calibration recorded beside a model file for that very file, None if there is none; a calibration of
  another file (the run went on training, or another file of the run) is ignored with a warning."""
  folder = os.path.dirname(os.path.abspath(model_path))
  try:
    found = record.read_calibration(folder)
  except record.DamagedRecord as error:
    raise EvaluationError(f"{error}. Run tools.calibrate on {folder} again, or remove the file.") from None
  if found is None or found.get("model") != os.path.basename(model_path):
    return None
  if found.get("model_sha256") != model_digest(model_path):
    print(f"warning: {os.path.join(folder, layout.CALIBRATION)} was fitted on an earlier {found['model']}: not "
          f"applied. Run `python -m tools.calibrate --model_dir={folder}` again.", file=sys.stderr, flush=True)
    return None
  return found
