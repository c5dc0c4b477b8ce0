"""Subject-disjoint 3-fold cross-validation: train on two folds, score on the third, for each fold.

  python -m tools.cross_validate --backbone=effnetb3 --dataset=cnmc/real --epochs=10
  python -m tools.cross_validate --quick --weights=none          # a CPU smoke run on cnmc/synthetic

Every trainer flag passes through (--backbone, --epochs, --image_size, ...) except --train_splits,
--val_split and --model_dir, which this tool sets. Each fold trains in its own process (a fresh
TensorFlow each time, so folds do not depend on their order) in <cv_dir>/<fold>; a rerun skips
finished folds and resumes an interrupted one. Each fold's final model (not the best epoch: that
choice would peek at the fold it is scored on) is scored on its held-out fold.
Writes <cv_dir>/cross_validation.json and cross_validation.md (per fold, and mean +- sd).
"""

import json
import os
import subprocess
import sys

from absl import app, flags

from trainer import flags as trainer_flags
from trainer.config import dataset_label

CV_DIR = flags.DEFINE_string("cv_dir", None,
                             "Where the folds' runs and the summary go; default runs/cv-<dataset>-<backbone>.")
FOLDS = flags.DEFINE_list("folds", ["fold_0", "fold_1", "fold_2"], "The subject-disjoint folds to rotate.")

SET_HERE = ("train_splits", "val_split", "model_dir")  # each fold's own
REPORTED = ("weighted_f1", "auc", "accuracy", "sensitivity", "specificity")


def fold_plan(folds: list[str]) -> list[tuple[str, tuple[str, ...]]]:
  """[(validation fold, training folds)]: each fold validates once and is never trained on then."""
  if len(folds) < 2 or len(set(folds)) != len(folds):
    raise app.UsageError(f"--folds={','.join(folds)}: need two or more different folds.")
  return [(held_out, tuple(f for f in folds if f != held_out)) for held_out in folds]


def passthrough_flags() -> list[str]:
  """The trainer flags given on this command line, as arguments for the trainer."""
  given = [f for f in flags.FLAGS.get_key_flags_for_module(trainer_flags) if f.present]
  refused = [f.name for f in given if f.name in SET_HERE]
  if refused:
    raise app.UsageError(f"--{', --'.join(refused)}: cross-validation sets the training and validation "
                         "splits and each fold's folder itself (see --folds and --cv_dir).")
  return [f.serialize() for f in given]


def train_fold(fold_dir: str, held_out: str, training: tuple[str, ...], arguments: list[str]) -> None:
  command = [sys.executable, "-m", "trainer", *arguments, f"--train_splits={','.join(training)}",
             f"--val_split={held_out}", f"--model_dir={fold_dir}"]
  print(f"\n=== {held_out}: training on {' + '.join(training)} ===\n{' '.join(command)}", flush=True)
  if subprocess.run(command).returncode != 0:
    raise app.UsageError(f"Training for {held_out} failed (its output is above). Fix the cause and rerun: "
                         f"finished folds are kept, and {fold_dir} resumes.")


def score_fold(fold_dir: str, held_out: str, batch_size: int) -> dict:
  """The fold's final model scored on the held-out fold (every image, no TTA)."""
  from evaluation import inference, scores, sources
  from pipeline.input_pipeline import make_eval_dataset
  model_path = os.path.join(fold_dir, "model.keras")
  builder = sources.dataset_builder(inference.run_config(model_path), None, None)
  model, image_size = inference.load_classifier(model_path)
  batches = make_eval_dataset(builder, held_out, image_size=image_size, batch_size=batch_size, cache=None,
                              metadata=("subject_id",))
  predicted = inference.predict_dataset(model, batches)
  return {**scores.classification_scores(predicted["label"], predicted["probability"]),
          "subjects": int(len(set(predicted["subject_id"])))}


def summarise(per_fold: dict[str, dict]) -> dict:
  """Mean and sample standard deviation (n - 1) over folds of each reported score."""
  import numpy as np
  summary = {}
  for name in REPORTED:
    values = [s[name] for s in per_fold.values() if s[name] is not None]
    summary[name] = {"mean": float(np.mean(values)) if values else None,
                     "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None}
  return summary


def table(per_fold: dict[str, dict], summary: dict) -> str:
  def cell(value):
    return "n/a" if value is None else f"{value:.4f}"
  lines = ["| validation fold | images | subjects | " + " | ".join(REPORTED) + " |",
           "|---|---|---|" + "---|" * len(REPORTED)]
  for fold, s in per_fold.items():
    lines.append(f"| {fold} | {s['images']} | {s['subjects']} | " + " | ".join(cell(s[n]) for n in REPORTED) + " |")
  lines.append("| mean ± sd | | | " + " | ".join(
      f"{cell(summary[n]['mean'])} ± {cell(summary[n]['sd'])}" for n in REPORTED) + " |")
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])} (flags start with --).")
  arguments = passthrough_flags()
  config = trainer_flags.config_from_flags()  # checks the flags once, before any fold starts
  plan = fold_plan(FOLDS.value)
  cv_dir = CV_DIR.value or os.path.join("runs", f"cv-{dataset_label(config.dataset)}-{config.backbone}")
  per_fold = {}
  for held_out, training in plan:
    fold_dir = os.path.join(cv_dir, held_out)
    train_fold(fold_dir, held_out, training, arguments)
    per_fold[held_out] = score_fold(fold_dir, held_out, config.batch_size)
  summary = summarise(per_fold)
  results = {"folds": {held_out: {"trained_on": list(training), **per_fold[held_out]} for held_out, training in plan},
             "mean_sd": summary, "trainer_flags": arguments}
  text = table(per_fold, summary)
  with open(os.path.join(cv_dir, "cross_validation.json"), "w") as f:
    json.dump(results, f, indent=2)
  with open(os.path.join(cv_dir, "cross_validation.md"), "w") as f:
    f.write(f"Cross-validation, final models, threshold 0.5; trainer flags: {' '.join(arguments) or '(defaults)'}\n\n"
            f"{text}\n")
  print(f"\n{text}\n\nResults in {cv_dir}/cross_validation.json and .md")


if __name__ == "__main__":
  app.run(main)
