"""The audit's scoring against planted faults (its command runs in tests/tools/test_audit.py)."""

import numpy as np

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
