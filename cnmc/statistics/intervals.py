"""95 % intervals from a bootstrap over subjects: the spread a score has from the choice of subjects alone.

Cells of one subject are strongly correlated, so a resample draws subjects, each bringing all its cells; ALL and
HEM subjects are drawn separately, so every resample holds both classes. A subject drawn k times weighs k, which
makes each resample's score that of the concatenated cells, computed for all resamples at once as matrix products.
"""

import numpy as np

from cnmc_tfds.vocabulary import ALL, HEM

RESAMPLES = 2000
CONFIDENCE = 0.95
SCORES = ("accuracy", "weighted_f1", "auc", "sensitivity", "specificity")


class TooFewSubjects(ValueError):
  """A class with fewer than two subjects: resampling it would give no spread, so no interval is made."""


def subject_weights(labels, subjects, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
  """(resamples, cells) float32: how often each cell's subject was drawn in each resample.

  Args:
    labels: (N,) 0 = HEM, 1 = ALL.
    subjects: (N,) subject ids; a subject's cells share its label.
  Raises:
    TooFewSubjects: a class with fewer than two subjects.
  """
  labels = np.asarray(labels, np.int64)
  names, subject_of_cell = np.unique(np.asarray([_text(s) for s in subjects]), return_inverse=True)
  subject_label = np.zeros(len(names), np.int64)
  subject_label[subject_of_cell] = labels
  rng = np.random.default_rng(seed)
  counts = np.zeros((resamples, len(names)), np.float32)
  for label in (HEM, ALL):
    members = np.flatnonzero(subject_label == label)
    if len(members) < 2:
      raise TooFewSubjects(f"{len(members)} {('HEM', 'ALL')[label]} subject(s): an interval over subjects needs at "
                           "least two of each class")
    counts[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), size=resamples)
  return counts[:, subject_of_cell]


def weighted_scores(labels, probabilities, weights: np.ndarray, threshold: float = 0.5) -> dict[str, np.ndarray]:
  """Each score of SCORES under each row of cell weights (R, N): {score: (R,)}, as scikit-learn computes it on
  the cells repeated by their weight (AUC with ties counted half)."""
  labels = np.asarray(labels, np.float64)
  probabilities = np.asarray(probabilities, np.float64)
  called = (probabilities >= threshold).astype(np.float64)
  weights = np.asarray(weights, np.float64)
  tp, fn = weights @ (labels * called), weights @ (labels * (1 - called))
  fp, tn = weights @ ((1 - labels) * called), weights @ ((1 - labels) * (1 - called))
  positives, negatives = tp + fn, tn + fp
  with np.errstate(invalid="ignore", divide="ignore"):
    f1_all = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    f1_hem = np.where(2 * tn + fp + fn > 0, 2 * tn / (2 * tn + fp + fn), 0.0)
    return {"accuracy": (tp + tn) / (positives + negatives),
            "weighted_f1": (positives * f1_all + negatives * f1_hem) / (positives + negatives),
            "auc": _weighted_auc(labels, probabilities, weights),
            "sensitivity": tp / positives, "specificity": tn / negatives}


def _weighted_auc(labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray) -> np.ndarray:
  """The Mann-Whitney AUC under each row of weights: cells of one score form a group; a positive beats the
  negatives of lower groups and ties half of its own group's."""
  order = np.argsort(probabilities, kind="stable")
  _, starts = np.unique(probabilities[order], return_index=True)
  positive = np.add.reduceat(weights[:, order] * labels[order], starts, axis=1)
  negative = np.add.reduceat(weights[:, order] * (1 - labels[order]), starts, axis=1)
  below = np.cumsum(negative, axis=1) - negative
  with np.errstate(invalid="ignore", divide="ignore"):
    return (positive * (below + 0.5 * negative)).sum(axis=1) / (positive.sum(axis=1) * negative.sum(axis=1))


def subject_intervals(labels, probabilities, subjects, threshold: float = 0.5, resamples: int = RESAMPLES,
                      seed: int = 0) -> dict[str, dict]:
  """Every score of SCORES with its 95 % interval over subjects.

  Returns:
    {score: {"value", "low", "high", "resamples", "unit": "subject"}}; value is the score of the cells as given.
  Raises:
    TooFewSubjects: a class with fewer than two subjects.
  """
  weights = subject_weights(labels, subjects, resamples, seed)
  values = weighted_scores(labels, probabilities, np.ones((1, len(weights[0]))), threshold)
  spread = weighted_scores(labels, probabilities, weights, threshold)
  tail = 100 * (1 - CONFIDENCE) / 2
  return {name: {"value": float(values[name][0]), "low": float(np.nanpercentile(spread[name], tail)),
                 "high": float(np.nanpercentile(spread[name], 100 - tail)), "resamples": resamples, "unit": "subject"}
          for name in SCORES}


def method_intervals(labels, probabilities, subjects, threshold: float = 0.5, seed: int = 0) -> dict:
  """What metrics.json keeps for one method: every score of SCORES, the subject vote's accuracy and the
  subject-level AUC (of each subject's mean P(ALL)) with their 95 % intervals over subjects, or
  {"unavailable": why} when a class has fewer than two subjects."""
  try:
    found = subject_intervals(labels, probabilities, subjects, threshold, seed=seed)
  except TooFewSubjects as error:
    return {"unavailable": str(error)}
  subjects = np.asarray([_text(s) for s in subjects])
  names = sorted(set(subjects.tolist()))
  probabilities, labels = np.asarray(probabilities, np.float64), np.asarray(labels)
  truth = np.array([labels[subjects == name][0] for name in names])
  called = np.array([(probabilities[subjects == name] >= threshold).mean() for name in names])
  mean = np.array([probabilities[subjects == name].mean() for name in names])
  vote = ((called > 0.5) | ((called == 0.5) & (mean >= threshold))).astype(np.float64)  # as scores.subject_scores
  found["subject_vote"] = subject_intervals(truth, vote, names, 0.5, seed=seed)["accuracy"]
  found["subject_auc"] = subject_intervals(truth, mean, names, threshold, seed=seed)["auc"]  # of mean P(ALL)
  return found


def paired_difference(labels, base, other, subjects, score: str = "weighted_f1", threshold: float = 0.5,
                      resamples: int = RESAMPLES, seed: int = 0) -> dict:
  """other's score minus base's on the same cells, with the 95 % interval of that difference over the same
  resampled subjects (both models scored on each resample): whether two models differ beyond the choice of
  subjects. {"value", "low", "high", "resamples", "unit", "apart": the interval excludes 0}.

  Raises:
    TooFewSubjects: a class with fewer than two subjects.
  """
  weights = subject_weights(labels, subjects, resamples, seed)
  def difference(rows: np.ndarray) -> np.ndarray:
    scored = (weighted_scores(labels, p, rows, threshold)[score] for p in (other, base))
    return next(scored) - next(scored)
  value, spread = difference(np.ones((1, weights.shape[1]))), difference(weights)
  tail = 100 * (1 - CONFIDENCE) / 2
  low, high = float(np.nanpercentile(spread, tail)), float(np.nanpercentile(spread, 100 - tail))
  return {"value": float(value[0]), "low": low, "high": high, "resamples": resamples, "unit": "subject",
          "apart": bool(low > 0 or high < 0)}


def apart_counts(per_seed: list[dict[str, dict]], names: list[str], key: str) -> dict[str, str]:
  """{name: 'apart in k of n seeds'}: in how many seeds its paired difference (per_seed[i][name][key], a
  paired_difference or None) excludes 0."""
  found = {}
  for name in names:
    known = [d for d in (seed[name].get(key) for seed in per_seed) if d]
    found[name] = f"apart in {sum(d['apart'] for d in known)} of {len(known)}" if known else "n/a"
  return found


def with_apart_column(table: str, names: list[str], apart: dict[str, str], baseline: str) -> str:
  """A markdown table (one row per name, in order) with a column saying, for each row but the baseline's, in how
  many seeds it differs from the baseline beyond the paired 95 % interval over subjects."""
  lines = table.splitlines()
  lines[0] += f" vs {baseline} (paired 95 % over subjects) |"
  lines[1] += "---|"
  for line_number, name in enumerate(names, start=2):
    lines[line_number] += f" {'—' if name == baseline else apart[name]} |"
  return "\n".join(lines)


def format_intervals(found: dict, digits: int = 3) -> str:
  """'weighted_f1 0.873 [0.812, 0.921], auc ...' (or why there is no interval)."""
  if "unavailable" in found:
    return f"no interval: {found['unavailable']}"
  return ", ".join(f"{name} {format_interval(score, digits)}" for name, score in found.items())


def format_interval(score: dict, digits: int = 3) -> str:
  """'0.873 [0.812, 0.921]'."""
  return f"{score['value']:.{digits}f} [{score['low']:.{digits}f}, {score['high']:.{digits}f}]"


def _text(value) -> str:
  return value.decode() if isinstance(value, bytes) else str(value)
