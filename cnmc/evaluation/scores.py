"""The numbers a C-NMC paper reports, from labels and P(ALL): per cell, and per subject.

Positive class = ALL (1), as the challenge scored; a cell is called ALL when P(ALL) >= threshold.
The challenge metric is scikit-learn's f1_score(average="weighted"), which participants used.
"""

import numpy as np
from sklearn import metrics

from cnmc_tfds.vocabulary import ALL, CLASS_NAMES, HEM


def classification_scores(labels, probabilities, threshold: float = 0.5) -> dict:
  """The per-cell scores of a C-NMC paper.

  Args:
    labels: (N,) 0 = HEM, 1 = ALL.
    probabilities: (N,) P(ALL).
    threshold: a cell is called ALL when P(ALL) >= threshold.
  Returns:
    {"images", "accuracy", "weighted_f1", "macro_f1", "auc" (None when the labels hold one class:
    it is undefined then), "sensitivity" (ALL recall), "specificity" (HEM recall),
    "confusion": {"tp", "fp", "tn", "fn"}}.
  Raises:
    ValueError: arrays of different lengths, or empty.
  """
  labels = np.asarray(labels, np.int64)
  probabilities = np.asarray(probabilities, np.float64)
  if labels.shape != probabilities.shape or labels.ndim != 1 or not len(labels):
    raise ValueError(f"need two equal-length 1-D arrays, got {labels.shape} and {probabilities.shape}")
  predicted = (probabilities >= threshold).astype(np.int64)
  (tn, fp), (fn, tp) = metrics.confusion_matrix(labels, predicted, labels=[HEM, ALL])
  recall = metrics.recall_score(labels, predicted, labels=[HEM, ALL], average=None, zero_division=0.0)
  both_classes = len(np.unique(labels)) == 2
  return {
      "images": int(len(labels)),
      "accuracy": float(metrics.accuracy_score(labels, predicted)),
      "weighted_f1": float(metrics.f1_score(labels, predicted, labels=[HEM, ALL], average="weighted",
                                            zero_division=0.0)),
      "macro_f1": float(metrics.f1_score(labels, predicted, labels=[HEM, ALL], average="macro",
                                         zero_division=0.0)),
      "auc": float(metrics.roc_auc_score(labels, probabilities)) if both_classes else None,
      "sensitivity": float(recall[ALL]),
      "specificity": float(recall[HEM]),
      "confusion": {"tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn)},
  }


def subject_scores(labels, probabilities, subjects, threshold: float = 0.5) -> dict:
  """Per subject: cells, true class, accuracy, mean P(ALL) and the majority vote of its cells.

  A subject's vote is the class most of its cells are called; a tie goes to the mean probability.

  Args:
    labels, probabilities, threshold: as for classification_scores.
    subjects: (N,) subject ids (str or bytes).
  Returns:
    {"subjects": [row, ...] (sorted by id), "vote_accuracy": share of subjects voted right}.
  Raises:
    ValueError: a subject with cells of both classes.
  """
  labels, probabilities = np.asarray(labels), np.asarray(probabilities, np.float64)
  subjects = np.asarray([s.decode() if isinstance(s, bytes) else str(s) for s in subjects])
  rows = []
  for subject in sorted(set(subjects.tolist())):
    mine = subjects == subject
    truth = np.unique(labels[mine])
    if len(truth) != 1:
      raise ValueError(f"subject {subject!r} has cells of both classes; subject ids must name one person")
    called_all = probabilities[mine] >= threshold
    share_all, mean_probability = float(called_all.mean()), float(probabilities[mine].mean())
    vote = ALL if share_all > 0.5 or (share_all == 0.5 and mean_probability >= threshold) else HEM
    rows.append({"subject": subject, "label": CLASS_NAMES[int(truth[0])], "cells": int(mine.sum()),
                 "accuracy": float((called_all == (truth[0] == ALL)).mean()),
                 "mean_probability_all": mean_probability, "vote": CLASS_NAMES[vote]})
  return {"subjects": rows, "vote_accuracy": float(np.mean([r["vote"] == r["label"] for r in rows]))}


def subject_means(labels, probabilities_by_name: dict[str, np.ndarray], subjects) -> tuple[np.ndarray, dict]:
  """Each subject's class and mean P(ALL) per method, subjects sorted by id: (labels (S,), {name: (S,)}), for a
  subject-level ROC."""
  subjects = np.asarray([s.decode() if isinstance(s, bytes) else str(s) for s in subjects])
  names, index = np.unique(subjects, return_inverse=True)
  cells = np.bincount(index, minlength=len(names))
  truth = np.zeros(len(names), np.int64)
  truth[index] = np.asarray(labels, np.int64)
  return truth, {name: np.bincount(index, weights=np.asarray(p, np.float64), minlength=len(names)) / cells
                 for name, p in probabilities_by_name.items()}


def format_scores(columns: dict[str, dict], subject_votes: dict[str, float] | None = None) -> str:
  """A plain-text table: one row per score, one column per method (e.g. "plain", "tta", "ensemble"),
  and the subject-level vote accuracy of each if given."""
  names = ("accuracy", "weighted_f1", "macro_f1", "auc", "sensitivity", "specificity")
  width = max(12, *(len(c) + 1 for c in columns))
  lines = [f"{'':14}" + "".join(f"{c:>{width}}" for c in columns)]
  for name in names:
    cells = ("n/a" if s[name] is None else f"{s[name]:.4f}" for s in columns.values())
    lines.append(f"{name:14}" + "".join(f"{c:>{width}}" for c in cells))
  if subject_votes:
    lines.append(f"{'subject vote':14}" + "".join(f"{subject_votes[c]:>{width}.4f}" for c in columns))
  return "\n".join(lines)


def format_subjects(per_subject: dict) -> str:
  lines = [f"{'subject':>10} {'class':>6} {'cells':>6} {'accuracy':>9} {'P(ALL)':>7} {'vote':>5}"]
  for r in per_subject["subjects"]:
    lines.append(f"{r['subject']:>10} {r['label']:>6} {r['cells']:>6} {r['accuracy']:>9.3f} "
                 f"{r['mean_probability_all']:>7.3f} {r['vote']:>5}")
  lines.append(f"subject-level vote accuracy: {per_subject['vote_accuracy']:.3f} "
               f"({len(per_subject['subjects'])} subjects)")
  return "\n".join(lines)


def mean_and_sd(values: list[float | None]) -> dict:
  """{"mean", "sd"} of the values given (None ones left out): the sample sd (n - 1), None below two values."""
  present = [v for v in values if v is not None]
  return {"mean": float(np.mean(present)) if present else None,
          "sd": float(np.std(present, ddof=1)) if len(present) > 1 else None}


def format_mean_sd(value: dict, digits: int = 3) -> str:
  """'0.851 ± 0.036' ('0.851' alone without an sd, 'n/a' without values)."""
  if value["mean"] is None:
    return "n/a"
  return f"{value['mean']:.{digits}f}" + (f" ± {value['sd']:.{digits}f}" if value["sd"] is not None else "")


def summarise_seeds(per_seed: list[dict[str, dict]], rows, columns) -> dict[str, dict]:
  """{row: {column: {"mean", "sd"}}} over seeds, from per_seed = [{row: {column: value}}, ...]."""
  return {row: {column: mean_and_sd([seed[row][column] for seed in per_seed]) for column in columns}
          for row in rows}


def mean_sd_table(summary: dict[str, dict], first: str, columns: dict[str, str], digits: dict | None = None) -> str:
  """Markdown: a row per summary key, mean ± sd of each column ({key: header}; digits per key, default 3)."""
  lines = [f"| {first} | " + " | ".join(columns.values()) + " |", "|---" * (len(columns) + 1) + "|"]
  for row, values in summary.items():
    cells = [format_mean_sd(values[key], (digits or {}).get(key, 3)) for key in columns]
    lines.append(f"| {row} | " + " | ".join(cells) + " |")
  return "\n".join(lines)
