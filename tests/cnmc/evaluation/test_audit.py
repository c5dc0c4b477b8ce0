"""The audit's scoring against planted faults (its command runs in tests/tools/test_audit.py)."""

import numpy as np
import pytest

from cnmc.evaluation import audit


def test_planted_scores_count_hits_precision_recall_and_the_top_of_the_list():
  issues = {"label_issues": [{"file_name": name} for name in ("a", "x", "b", "y")],
            "near_duplicates": [{"file_name": "c", "partner_file_name": "d"}],
            "outliers": []}
  manifest = {"flipped": ["a", "b", "z"], "duplicates": [["d", "c"], ["e", "f"]], "garbage": ["g"]}
  scores = audit.planted_scores(issues, manifest)
  assert scores["label_issues"] == {"found": 4, "planted": 3, "hits": 2, "precision": 0.5, "recall": 2 / 3,
                                    "precision_at_planted": 2 / 3}  # a, x, b: two of the first three
  assert scores["near_duplicates"]["precision"] == 1.0 and scores["near_duplicates"]["recall"] == 0.5
  assert scores["outliers"] == {"found": 0, "planted": 1, "hits": 0, "precision": None, "recall": 0.0,
                                "precision_at_planted": None}


def test_the_summary_lists_the_subjects_with_most_findings_first_and_the_console_only_the_first():
  rows = [{"file_name": f"c{i}", "subject_id": subject, "split": "fold_0"}
          for i, subject in enumerate(["H1", "7", "7", "3", "7", "3"])]
  cells = {"label": [0] * 6, "split": np.array(["fold_0"] * 6)}
  facts = audit.summary(cells, {"label_issues": rows, "near_duplicates": [], "outliers": []})
  assert "per subject: 7 3, 3 2, H1 1" in audit.summary_text(facts)
  assert "per subject: 7 3, 3 2 and 1 more (summary.md)" in audit.summary_text(facts, subjects_shown=2)


def test_identical_cells_apart_are_a_leak_and_look_alikes_apart_a_question():
  pair = {"file_name": "a", "subject_id": "1", "split": "fold_0", "partner_subject_id": "2", "partner_split": "fold_2"}
  duplicates = [{**pair, "leak": True, "identical_pixels": True}, {**pair, "leak": True, "identical_pixels": False},
                {**pair, "leak": False, "identical_pixels": False}]
  cells = {"label": [0] * 6, "split": np.array(["fold_0", "fold_2"] * 3)}
  facts = audit.summary(cells, {"label_issues": [], "near_duplicates": duplicates, "outliers": []})
  assert (facts["leaking_copies"], facts["leaking_lookalikes"]) == (1, 1)
  text = audit.summary_text(facts)
  assert "**LEAK: 1 pairs of identical cells sit in different subjects or splits**" in text
  assert "1 near-duplicate pairs in different subjects or splits look alike to the models" in text
  facts = audit.summary(cells, {"label_issues": [], "near_duplicates": duplicates[1:], "outliers": []})
  assert "LEAK" not in audit.summary_text(facts)


def audited_cells(separation: float, spread: float = 0.2, seed: int = 0, subjects: int = 10, per_subject: int = 20):
  """Cells of subjects/2 ALL and subjects/2 HEM subjects whose P(ALL) moves `separation` with the label."""
  rng = np.random.default_rng(seed)
  subject = np.repeat(np.arange(subjects), per_subject)
  label = subject % 2
  probability = np.clip(0.5 + separation * (label - 0.5) + rng.normal(0, spread, len(subject)), 0, 1)
  return {"label": label, "probability": probability, "subject_id": np.array([f"S{s}" for s in subject]),
          "file_name": np.array([f"c{i}.bmp" for i in range(len(subject))]), "split": np.array(["fold_0"] * len(label))}


def findings(cells, lookalike_pairs: int = 2, copies: int = 1):
  def cell(i, prefix=""):
    return {f"{prefix}file_name": cells["file_name"][i], f"{prefix}subject_id": cells["subject_id"][i],
            f"{prefix}split": "fold_0"}
  pair = lambda a, b, same: {**cell(a), **cell(b, "partner_"), "identical_pixels": same, "leak": True}  # noqa
  return {"label_issues": [cell(1), cell(2)], "outliers": [cell(3)],
          "near_duplicates": [pair(2 * i, 2 * i + 1, False) for i in range(lookalike_pairs)]
          + [pair(2 * i + 1, 2 * i, True) for i in range(copies)]}


def test_models_that_separate_the_classes_carry_every_finding():
  cells = audited_cells(separation=0.6)
  issues = findings(cells)
  evidence = audit.judge_evidence(cells, issues)
  assert evidence["models_separate_classes"] and evidence["embedding_tells_cells_apart"] and not evidence["warnings"]
  assert evidence["out_of_fold_auc"]["low"] > 0.5 and evidence["out_of_fold_auc"]["unit"] == "subject"
  trusted, withheld = audit.trusted_findings(issues, evidence)
  assert trusted == issues and withheld == {"label_issues": 0, "near_duplicates": 0, "outliers": 0}


@pytest.mark.parametrize("separation, spread, reason", [(0.0, 0.2, "cannot tell ALL from HEM"),
                                                         (0.0, 0.001, "nearly one P(ALL) to every cell")])
def test_chance_level_models_announce_no_label_issue_lookalike_or_outlier_but_copies_stay(separation, spread, reason):
  cells = audited_cells(separation, spread)
  issues = findings(cells)
  evidence = audit.judge_evidence(cells, issues)
  assert not evidence["models_separate_classes"] and any(reason in w for w in evidence["warnings"])
  trusted, withheld = audit.trusted_findings(issues, evidence)
  assert trusted["label_issues"] == trusted["outliers"] == []
  assert [row["identical_pixels"] for row in trusted["near_duplicates"]] == [True]
  assert withheld == {"label_issues": 2, "near_duplicates": 2, "outliers": 1}
  facts = {**audit.summary(cells, trusted), "evidence": {**evidence, "withheld": withheld}}
  text = audit.summary_text(facts)
  assert text.index("cannot rest on these fold models") < text.index("| finding |")
  assert "Withheld: 2 label issues, 2 look-alike pairs, 1 outliers" in text
  assert facts["leaking_lookalikes"] == 0 and facts["counts"]["label_issues"] == 0


def test_a_collapsed_embedding_withholds_lookalikes_and_outliers_not_label_issues():
  cells = audited_cells(separation=0.6)
  issues = findings(cells, lookalike_pairs=60)  # 120 of 200 cells look alike to another
  evidence = audit.judge_evidence(cells, issues)
  assert evidence["models_separate_classes"] and not evidence["embedding_tells_cells_apart"]
  assert evidence["lookalike_share"] == pytest.approx(0.6) and "collapsed: 60 %" in evidence["warnings"][0]
  trusted, withheld = audit.trusted_findings(issues, evidence)
  assert trusted["label_issues"] == issues["label_issues"] and trusted["outliers"] == []
  assert withheld["near_duplicates"] == 60 and len(trusted["near_duplicates"]) == 1


def test_one_subject_of_a_class_is_too_few_to_trust_the_models():
  cells = audited_cells(separation=0.6, subjects=3)  # one ALL subject
  evidence = audit.judge_evidence(cells, findings(cells))
  assert evidence["out_of_fold_auc"] is None and not evidence["models_separate_classes"]
  assert "Too few subjects" in evidence["warnings"][0]
