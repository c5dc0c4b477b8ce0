"""The subject bootstrap: each resample scores as scikit-learn does on the resampled cells, both classes are in
every resample, a seed repeats it, and one subject of a class is refused rather than given a fake interval."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn import metrics

from cnmc.statistics import intervals


def cells(seed: int, subjects: int = 12, per_subject: int = 15):
  rng = np.random.default_rng(seed)
  subject = np.repeat(np.arange(subjects), per_subject)
  labels = (subject % 2).astype(int)
  effect = rng.normal(0, 0.15, subjects)[subject]  # a subject's cells lean together
  probabilities = np.clip(0.5 + 0.25 * (labels - 0.5) + effect + rng.normal(0, 0.2, len(subject)), 0, 1).round(2)
  return labels, probabilities, np.array([f"S{s}" for s in subject])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), threshold=st.sampled_from([0.3, 0.5, 0.7]))
def test_each_resample_scores_what_scikit_learn_gives_on_the_cells_it_repeats(seed, threshold):
  labels, probabilities, subjects = cells(seed)
  weights = intervals.subject_weights(labels, subjects, resamples=3, seed=seed)
  scores = intervals.weighted_scores(labels, probabilities, weights, threshold)
  for row in range(3):
    cell = np.repeat(np.arange(len(labels)), weights[row].astype(int))
    truth, called = labels[cell], (probabilities[cell] >= threshold).astype(int)
    assert set(truth) == {0, 1}  # ALL and HEM subjects are drawn separately
    expected = {"auc": metrics.roc_auc_score(truth, probabilities[cell]),
                "weighted_f1": metrics.f1_score(truth, called, average="weighted", zero_division=0.0),
                "accuracy": metrics.accuracy_score(truth, called),
                "sensitivity": metrics.recall_score(truth, called, zero_division=0.0),
                "specificity": metrics.recall_score(1 - truth, 1 - called, zero_division=0.0)}
    for name, value in expected.items():
      assert scores[name][row] == pytest.approx(value, abs=1e-9), name


def test_a_subject_is_drawn_whole_and_each_class_keeps_its_number_of_subjects():
  labels, _, subjects = cells(0)
  weights = intervals.subject_weights(labels, subjects, resamples=50, seed=1)
  for name in set(subjects):
    mine = weights[:, subjects == name]
    assert (mine == mine[:, :1]).all()  # every cell of a subject weighs the same in a resample
  assert (weights[:, labels == 1].sum(axis=1) == 6 * 15).all() and (weights[:, labels == 0].sum(axis=1) == 90).all()


def test_intervals_hold_the_value_are_repeatable_for_a_seed_and_change_with_it():
  labels, probabilities, subjects = cells(3)
  first = intervals.subject_intervals(labels, probabilities, subjects, resamples=500, seed=7)
  assert first == intervals.subject_intervals(labels, probabilities, subjects, resamples=500, seed=7)
  assert first != intervals.subject_intervals(labels, probabilities, subjects, resamples=500, seed=8)
  for name, score in first.items():
    assert score["low"] <= score["value"] <= score["high"], name
    assert score["low"] < score["high"] and score["resamples"] == 500 and score["unit"] == "subject"
  assert first["auc"]["value"] == pytest.approx(metrics.roc_auc_score(labels, probabilities))
  assert intervals.format_interval(first["auc"]).count("[") == 1


def test_one_subject_of_a_class_is_refused_with_a_reason():
  labels, probabilities, subjects = np.array([0, 0, 1, 1, 1]), np.array([.1, .2, .8, .9, .7]), ["H1", "H1", *"AAB"]
  with pytest.raises(intervals.TooFewSubjects, match="1 HEM subject"):
    intervals.subject_intervals(labels, probabilities, subjects)


def test_two_thousand_resamples_of_the_final_test_size_take_under_a_second():
  import time
  labels, probabilities, subjects = cells(5, subjects=40, per_subject=65)  # 2,600 cells
  start = time.perf_counter()
  intervals.subject_intervals(labels, probabilities, subjects, resamples=2000)
  assert time.perf_counter() - start < 3  # 0.2 s measured here (BUILD.md); slack for a busy machine


def test_a_methods_intervals_hold_every_score_and_the_subject_vote_as_scores_computes_them():
  from cnmc.evaluation import scores
  labels, probabilities, subjects = cells(11)
  found = intervals.method_intervals(labels, probabilities, subjects, threshold=0.5)
  assert set(found) == {*intervals.SCORES, "subject_vote", "subject_auc"}
  plain = scores.classification_scores(labels, probabilities)
  for name in intervals.SCORES:
    assert found[name]["value"] == pytest.approx(plain[name]), name
  assert found["subject_vote"]["value"] == pytest.approx(
      scores.subject_scores(labels, probabilities, subjects)["vote_accuracy"])
  # The subject-level AUC ranks each subject's mean P(ALL), with an interval of its own over the same subjects.
  truth, means = scores.subject_means(labels, {"plain": probabilities}, subjects)
  assert found["subject_auc"]["value"] == pytest.approx(metrics.roc_auc_score(truth, means["plain"]))
  assert found["subject_auc"]["low"] <= found["subject_auc"]["value"] <= found["subject_auc"]["high"]
  assert intervals.method_intervals(labels, probabilities, subjects) == found  # identical for a seed
  assert "weighted_f1 " in intervals.format_intervals(found)
  few = intervals.method_intervals([0, 0, 1, 1], [.2, .3, .8, .9], ["H1", "H1", "A", "B"])
  assert few == {"unavailable": "1 HEM subject(s): an interval over subjects needs at least two of each class"}
  assert intervals.format_intervals(few).startswith("no interval: 1 HEM subject(s)")


def draw_validation_set(rng, subjects_per_class: int, cells: int):
  """Cells of a classifier whose P(ALL) leans per subject: logit = +-1 + subject offset N(0, 1) + cell noise."""
  labels = np.repeat(np.array([0, 1] * subjects_per_class), cells)
  subject = np.repeat(np.arange(2 * subjects_per_class), cells)
  logit = np.where(labels == 1, 1.0, -1.0) + rng.normal(0, 1.0, 2 * subjects_per_class)[subject]
  return labels, 1 / (1 + np.exp(-(logit + rng.normal(0, 1.2, len(labels))))), subject


@pytest.mark.slow  # 400 simulated validation sets
def test_the_subject_interval_covers_the_true_weighted_f1_and_a_cell_level_one_does_not():
  rng = np.random.default_rng(0)
  population = draw_validation_set(rng, 20_000, 20)  # the true weighted F1: 40,000 subjects
  truth = intervals.weighted_scores(*population[:2], np.ones((1, len(population[0]))))["weighted_f1"][0]
  sets, subject_hits, cell_hits = 400, 0, 0
  for seed in range(sets):  # 28 subjects each, as the preliminary test set
    labels, probabilities, subjects = draw_validation_set(rng, 14, 20)
    found = intervals.subject_intervals(labels, probabilities, subjects, resamples=500, seed=seed)["weighted_f1"]
    subject_hits += found["low"] <= truth <= found["high"]
    cells = rng.multinomial(len(labels), np.full(len(labels), 1 / len(labels)), size=500)  # cells drawn alone
    low, high = np.percentile(intervals.weighted_scores(labels, probabilities, cells)["weighted_f1"], [2.5, 97.5])
    cell_hits += low <= truth <= high
  assert 0.90 <= subject_hits / sets <= 0.99, subject_hits / sets
  assert cell_hits / sets < 0.75, cell_hits / sets  # correlated cells taken as independent: far too narrow


def test_a_paired_difference_is_apart_only_when_one_model_is_better_on_resampled_subjects_alike():
  labels, probabilities, subjects = cells(4, subjects=16, per_subject=20)
  same = intervals.paired_difference(labels, probabilities, probabilities, subjects, resamples=300)
  assert (same["value"], same["low"], same["high"], same["apart"]) == (0.0, 0.0, 0.0, False)
  better = np.clip(probabilities + 0.3 * (labels - 0.5), 0, 1)  # every cell pushed toward its class
  found = intervals.paired_difference(labels, probabilities, better, subjects, resamples=300)
  plain, improved = (intervals.subject_intervals(labels, p, subjects, resamples=300)["weighted_f1"]
                     for p in (probabilities, better))
  assert found["value"] == pytest.approx(improved["value"] - plain["value"]) and found["apart"] and found["low"] > 0
  assert found["high"] - found["low"] < (plain["high"] - plain["low"])  # pairing removes the subjects' own spread
