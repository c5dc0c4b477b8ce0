"""The evaluation's numbers against values worked out by hand on fixed predictions."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cnmc.evaluation.scores import classification_scores, format_scores, format_subjects, subject_scores
from trainer.metrics import scores_from_counts

# 4 ALL then 6 HEM. At 0.5: ALL called ALL, ALL, ALL, HEM; HEM called ALL once (0.7).
LABELS = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
PROBABILITIES = [0.9, 0.8, 0.6, 0.4, 0.7, 0.3, 0.2, 0.1, 0.05, 0.0]


def test_scores_match_hand_computed_values():
  s = classification_scores(LABELS, PROBABILITIES)
  assert s["confusion"] == {"tp": 3, "fp": 1, "tn": 5, "fn": 1}
  assert s["images"] == 10
  assert s["accuracy"] == pytest.approx(0.8)
  f1_all, f1_hem = 6 / 8, 10 / 12  # 2tp / (2tp + fp + fn), 2tn / (2tn + fn + fp)
  assert s["weighted_f1"] == pytest.approx((4 * f1_all + 6 * f1_hem) / 10)  # = 0.8
  assert s["macro_f1"] == pytest.approx((f1_all + f1_hem) / 2)
  assert s["sensitivity"] == pytest.approx(3 / 4)
  assert s["specificity"] == pytest.approx(5 / 6)
  # AUC = share of (ALL, HEM) pairs ranked right: 0.9 and 0.8 beat all 6, 0.6 and 0.4 beat 5 each.
  assert s["auc"] == pytest.approx(22 / 24)


def test_a_probability_at_the_threshold_is_called_all():
  s = classification_scores([1, 0], [0.5, 0.49])
  assert s["confusion"] == {"tp": 1, "fp": 0, "tn": 1, "fn": 0}
  assert classification_scores([1, 0], [0.5, 0.49], threshold=0.6)["confusion"]["fn"] == 1


def test_auc_is_none_for_one_class_and_the_table_says_so():
  s = classification_scores([1, 1, 1], [0.9, 0.2, 0.7])
  assert s["auc"] is None and s["specificity"] == 0.0 and s["sensitivity"] == pytest.approx(2 / 3)
  assert "n/a" in format_scores({"plain": s})


def test_mismatched_inputs_are_refused():
  with pytest.raises(ValueError, match="equal-length"):
    classification_scores([1, 0, 1], [0.2, 0.3])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=1, max_size=60))
def test_weighted_f1_agrees_with_the_training_metric(pairs):
  labels, probabilities = (np.array(x) for x in zip(*pairs, strict=True))
  s = classification_scores(labels, probabilities)
  from_keras = scores_from_counts(**{k: float(v) for k, v in s["confusion"].items()})
  assert float(from_keras["weighted_f1"]) == pytest.approx(s["weighted_f1"], abs=1e-6)
  assert float(from_keras["sensitivity"]) == pytest.approx(s["sensitivity"], abs=1e-6)


def test_per_subject_accuracy_and_vote():
  labels = [1, 1, 1, 0, 0, 0, 0, 1, 1]
  probabilities = [0.9, 0.2, 0.8,  # subject 11: 2 of 3 called ALL -> votes ALL (right)
                   0.6, 0.7, 0.1,  # subject H2: 2 of 3 called ALL -> votes ALL (wrong)
                   0.3,            # subject h3 (lower case h): 1 cell, right
                   0.9, 0.2]       # subject 5: a tie; mean P(ALL) 0.55 -> ALL (right)
  subjects = [b"11", b"11", b"11", "H2", "H2", "H2", "h3", "5", "5"]
  result = subject_scores(labels, probabilities, subjects)
  rows = {r["subject"]: r for r in result["subjects"]}
  assert list(rows) == ["11", "5", "H2", "h3"]
  assert rows["11"]["accuracy"] == pytest.approx(2 / 3) and rows["11"]["vote"] == "all"
  assert rows["H2"]["accuracy"] == pytest.approx(1 / 3) and rows["H2"]["vote"] == "all"
  assert rows["5"]["vote"] == "all" and rows["5"]["mean_probability_all"] == pytest.approx(0.55)
  assert rows["h3"]["label"] == "hem" and rows["h3"]["cells"] == 1
  assert result["vote_accuracy"] == pytest.approx(3 / 4)
  assert "subject-level vote accuracy: 0.750 (4 subjects)" in format_subjects(result)


def test_a_subject_with_both_classes_is_an_error():
  with pytest.raises(ValueError, match="'7' has cells of both classes"):
    subject_scores([1, 0], [0.5, 0.5], ["7", "7"])
