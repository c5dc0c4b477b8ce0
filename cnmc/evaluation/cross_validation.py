"""Cross-validation's numbers: which folds train and which validates, each run scored, mean ± sd.

Each run's final model (not its best epoch: that choice would peek at the data it is scored on) is
scored on its held-out split.
"""

import os

from cnmc_tfds.vocabulary import FOLD_SPLITS
from cnmc.evaluation import inference, scores, sources
from cnmc.statistics import intervals
from cnmc.evaluation.errors import EvaluationError
from cnmc.run_folder import layout

REPORTED = ("weighted_f1", "auc", "accuracy", "sensitivity", "specificity")


def fold_plan(folds=FOLD_SPLITS) -> list[tuple[str, tuple[str, ...]]]:
  """[(validation fold, training folds)]: each fold validates once and is never trained on then.

  Raises:
    EvaluationError: fewer than two folds, or a fold named twice.
  """
  if len(folds) < 2 or len(set(folds)) != len(folds):
    raise EvaluationError(f"--folds={','.join(folds)}: need two or more different folds.")
  return [(held_out, tuple(f for f in folds if f != held_out)) for held_out in folds]


def score_run(run_dir: str, held_out: str, batch_size: int) -> dict:
  """The run's final model scored on every image of `held_out` (no TTA, threshold 0.5).

  Returns:
    classification_scores(...) of the split, plus "subjects": how many subjects it holds, and "intervals":
    each score's 95 % interval over subjects (intervals.method_intervals).
  Raises:
    EvaluationError: the run has no usable model.keras, or its dataset is gone.
  """
  model_path = os.path.join(run_dir, layout.FINAL_MODEL)
  builder = sources.dataset_builder(inference.run_record(model_path), None, None)
  model, image_size = inference.load_classifier(model_path)
  print(f"Scoring {model_path} on {builder.info.full_name} ({builder.data_dir}), split {held_out} ...", flush=True)
  batches, _ = sources.split_batches(builder, held_out, image_size, batch_size, metadata=("subject_id",))
  predicted = inference.predict_dataset(model, batches)
  return {**scores.classification_scores(predicted["label"], predicted["probability"]),
          "subjects": int(len(set(predicted["subject_id"]))),
          "intervals": intervals.method_intervals(predicted["label"], predicted["probability"],
                                                  predicted["subject_id"])}


def summarise(runs: list[dict]) -> dict:
  """Mean and sample standard deviation (n - 1) over runs of each reported score.

  Returns:
    {score: {"mean": float | None, "sd": float | None}} for every name in REPORTED.
  """
  return {name: scores.mean_and_sd([r[name] for r in runs]) for name in REPORTED}


def _cell(value) -> str:
  return "n/a" if value is None else f"{value:.4f}"


def _interval(run: dict) -> str:
  """The run's weighted F1 interval over subjects, '[0.81, 0.92]' (n/a without one)."""
  found = run.get("intervals", {}).get("weighted_f1")
  return f"[{found['low']:.2f}, {found['high']:.2f}]" if found else "n/a"


def table(rows: dict[str, dict], summary: dict | None = None, first_column: str = "held out") -> str:
  """A Markdown table: a row per run (images, subjects, scores, the weighted F1's 95 % interval over subjects),
  then mean ± sd over the runs if given."""
  lines = [f"| {first_column} | images | subjects | " + " | ".join(REPORTED) + " | weighted_f1 95 % (subjects) |",
           "|---|---|---|" + "---|" * (len(REPORTED) + 1)]
  for name, r in rows.items():
    lines.append(f"| {name} | {r['images']} | {r['subjects']} | " + " | ".join(_cell(r[n]) for n in REPORTED)
                 + f" | {_interval(r)} |")
  if summary:
    lines.append("| mean ± sd | | | " + " | ".join(scores.format_mean_sd(summary[n], digits=4)
                                                  for n in REPORTED) + " | |")
  return "\n".join(lines)
