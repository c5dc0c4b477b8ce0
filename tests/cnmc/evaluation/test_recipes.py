"""The recipe comparison's runs and table (its command runs in tests/tools/test_compare_recipe.py)."""

import pytest

from cnmc.evaluation import recipes


def flag_values(flags: list[str]) -> dict[str, str]:
  return dict(flag[2:].split("=", 1) for flag in flags)


def test_each_feature_is_one_row_and_all_together_has_every_flag():
  variants = recipes.recipes(16, 20)
  assert list(variants) == ["plain", "ema", "label_smoothing", "warmup", "clipping", "accumulation", "mixup",
                            "cutmix", "all"]
  assert variants["plain"][1] == []
  everything = flag_values(variants["all"][1])
  for name, (_, flags) in variants.items():
    assert flag_values(flags).items() <= everything.items(), name
  assert everything["warmup_steps"] == "20"  # the first epoch


def test_accumulation_keeps_the_effective_batch_and_the_images_per_epoch():
  accumulated = flag_values(recipes.recipes(16, 20)["accumulation"][1])
  assert int(accumulated["accumulation_steps"]) * int(accumulated["batch_size"]) == 16
  assert int(accumulated["steps_per_epoch"]) * int(accumulated["batch_size"]) == 20 * 16
  whole_pass = flag_values(recipes.recipes(16, 0)["accumulation"][1])
  assert "steps_per_epoch" not in whole_pass  # a pass of half batches is twice the steps already


def test_the_table_has_a_row_per_recipe_with_mean_and_sd():
  row = {"cell_weighted_f1": 0.8, "subject_weighted_f1": 0.9, "auc": 0.85, "training_seconds": 12.0}
  per_seed = [{"plain": row, "ema": {**row, "cell_weighted_f1": 0.9}}, {"plain": row, "ema": row}]
  summary = recipes.summarise(per_seed, ["plain", "ema"])
  assert summary["ema"]["cell_weighted_f1"]["mean"] == pytest.approx(0.85) and summary["plain"]["auc"]["sd"] == 0.0
  text = recipes.table(summary, {"plain": "plain", "ema": "+ EMA"}).splitlines()
  assert text[0] == "| recipe | weighted F1 (cells) | weighted F1 (subjects) | AUC | training s |"
  assert text[3].startswith("| + EMA | 0.850 ± 0.071 |") and text[2].endswith("| 12.0 ± 0.0 |")
