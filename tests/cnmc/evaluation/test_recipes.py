"""The recipe comparison's table (its runs: tests/trainer/test_recipe.py; its command: tests/tools/)."""

import pytest

from cnmc.evaluation import recipes
from cnmc.statistics import intervals


def test_the_table_has_a_row_per_recipe_with_mean_and_sd():
  row = {"cell_weighted_f1": 0.8, "subject_weighted_f1": 0.9, "auc": 0.85, "training_seconds": 12.0}
  per_seed = [{"plain": row, "ema": {**row, "cell_weighted_f1": 0.9}}, {"plain": row, "ema": row}]
  summary = recipes.summarise(per_seed, ["plain", "ema"])
  assert summary["ema"]["cell_weighted_f1"]["mean"] == pytest.approx(0.85) and summary["plain"]["auc"]["sd"] == 0.0
  text = recipes.table(summary, {"plain": "plain", "ema": "+ EMA"}).splitlines()
  assert text[0] == "| recipe | weighted F1 (cells) | weighted F1 (subjects) | AUC | training s |"
  assert text[3].startswith("| + EMA | 0.850 ± 0.071 |") and text[2].endswith("| 12.0 ± 0.0 |")


def test_the_table_says_in_how_many_seeds_each_recipe_is_apart_from_plain():
  row = {"cell_weighted_f1": 0.8, "subject_weighted_f1": 0.9, "auc": 0.85, "training_seconds": 12.0}
  apart = {"value": 0.05, "low": 0.01, "high": 0.09, "apart": True}
  within = {**apart, "low": -0.02, "apart": False}
  per_seed = [{"plain": {**row, "vs_plain": None}, "ema": {**row, "vs_plain": apart}},
              {"plain": {**row, "vs_plain": None}, "ema": {**row, "vs_plain": within}}]
  counts = intervals.apart_counts(per_seed, ["plain", "ema"], "vs_plain")
  assert counts == {"plain": "n/a", "ema": "apart in 1 of 2"}
  text = recipes.table(recipes.summarise(per_seed, ["plain", "ema"]), {"plain": "plain", "ema": "+ EMA"}, counts)
  lines = text.splitlines()
  assert lines[0].endswith("| training s | vs plain (paired 95 % over subjects) |")
  assert lines[2].endswith("| — |") and lines[3].endswith("| apart in 1 of 2 |")
