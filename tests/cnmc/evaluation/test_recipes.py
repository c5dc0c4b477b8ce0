"""The recipe comparison's table (its runs: tests/trainer/test_recipe.py; its command: tests/tools/)."""

import pytest

from cnmc.evaluation import recipes


def test_the_table_has_a_row_per_recipe_with_mean_and_sd():
  row = {"cell_weighted_f1": 0.8, "subject_weighted_f1": 0.9, "auc": 0.85, "training_seconds": 12.0}
  per_seed = [{"plain": row, "ema": {**row, "cell_weighted_f1": 0.9}}, {"plain": row, "ema": row}]
  summary = recipes.summarise(per_seed, ["plain", "ema"])
  assert summary["ema"]["cell_weighted_f1"]["mean"] == pytest.approx(0.85) and summary["plain"]["auc"]["sd"] == 0.0
  text = recipes.table(summary, {"plain": "plain", "ema": "+ EMA"}).splitlines()
  assert text[0] == "| recipe | weighted F1 (cells) | weighted F1 (subjects) | AUC | training s |"
  assert text[3].startswith("| + EMA | 0.850 ± 0.071 |") and text[2].endswith("| 12.0 ± 0.0 |")
