"""tools.compare_recipe end to end on the tiny set: the chosen recipes trained, scored and tabled."""

import json

import pytest

from cnmc.run_folder import layout, record
from tests.support import in_process


def independent_weighted_f1(run_dir, builder) -> float:
  """The run's final model on the validation split, scored by scikit-learn from Keras' own predictions."""
  import keras
  import numpy as np
  from sklearn import metrics

  from pipeline.input_pipeline import make_eval_dataset
  model = keras.saving.load_model(run_dir / layout.FINAL_MODEL)
  labels, called = [], []
  for images, batch_labels in make_eval_dataset(builder, "validation", image_size=32, batch_size=16, cache=None):
    labels.append(batch_labels.numpy())
    called.append(model.predict_on_batch(images).reshape(-1) >= 0.5)
  return metrics.f1_score(np.concatenate(labels), np.concatenate(called), average="weighted")


@pytest.mark.slow
def test_the_comparison_trains_the_recipes_scores_them_and_writes_the_table(tiny_synthetic, tmp_path):
  out = tmp_path / "recipe"
  result = in_process.module("tools.compare_recipe", f"--dataset={tiny_synthetic.data_dir}", "--seeds=4", "--epochs=1",
                             "--steps_per_epoch=2", "--image_size=32", "--batch_size=8", "--recipes=plain,accumulation",
                             f"--compare_dir={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["seed4-accumulation", "seed4-plain"]
  flags = json.loads((out / "seed4-accumulation" / layout.CONFIG).read_text())["flags"]
  assert (flags["accumulation_steps"], flags["batch_size"], flags["steps_per_epoch"], flags["seed"]) == (2, 4, 2, 4)
  assert flags["train_splits"] == ["fold_0", "fold_1"] and flags["val_split"] == "fold_2"
  results = json.loads((out / "recipe.json").read_text())
  assert list(results["summary"]) == ["plain", "accumulation"] and results["scored_on"] == "validation"
  scored = results["per_seed"]["4"]["plain"]
  assert scored["cell_weighted_f1"] == pytest.approx(independent_weighted_f1(out / "seed4-plain", tiny_synthetic))
  assert results["summary"]["plain"]["cell_weighted_f1"]["mean"] == scored["cell_weighted_f1"]  # one seed
  assert scored["intervals"]["weighted_f1"]["value"] == pytest.approx(scored["cell_weighted_f1"])  # over subjects
  paired = results["per_seed"]["4"]["accumulation"]["vs_plain"]  # same validation subjects, resampled alike
  accumulated = results["per_seed"]["4"]["accumulation"]["cell_weighted_f1"]
  assert paired["value"] == pytest.approx(accumulated - scored["cell_weighted_f1"]) and scored["vs_plain"] is None
  assert paired["apart"] == (paired["low"] > 0 or paired["high"] < 0)
  assert scored["training_seconds"] == pytest.approx(sum(row["train_seconds"] for row in record.read_history(
      str(out / "seed4-plain"))))
  table = (out / "recipe.md").read_text()
  assert "| plain |" in table and "| + accumulation 2 x half batch |" in table
  assert "vs plain (paired 95 % over subjects)" in table and ("apart in 1 of 1" in table or "apart in 0 of 1" in table)


def test_an_unknown_recipe_or_a_flag_the_tool_sets_is_refused_in_one_line(tmp_path):
  result = in_process.module("tools.compare_recipe", "--recipes=plain,dropout", f"--compare_dir={tmp_path}")
  assert result.returncode == 1 and "--recipes: dropout is not a recipe" in result.stderr
  result = in_process.module("tools.compare_recipe", "--ema_decay=0.9", f"--compare_dir={tmp_path}")
  assert result.returncode == 1 and result.stderr.splitlines()[-1].startswith(
      "error: --ema_decay: this tool sets the training and validation splits and each run's folder, and --seed, "
      "--warmup_steps, --clipnorm, --accumulation_steps, --label_smoothing, --ema_decay,")
