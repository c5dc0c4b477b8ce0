"""What cross_validate and leakage_demo share: trainer runs in subprocesses, scored on held-out data.

Each run is `python -m trainer` in its own process (a fresh TensorFlow each time, so runs do not
depend on their order), with the trainer flags given to the calling tool passed through. Its final
model (not its best epoch: that choice would peek at the data it is scored on) is then scored.
"""

import os
import subprocess
import sys

from absl import app, flags

from trainer import flags as trainer_flags

SET_HERE = ("train_splits", "val_split", "model_dir")  # each run's own
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
    raise app.UsageError(f"--{', --'.join(refused)}: this tool sets the training and validation splits and "
                         "each run's folder itself.")
  return [f.serialize() for f in given]


def train_run(run_dir: str, training: tuple[str, ...], held_out: str, arguments: list[str]) -> None:
  """Trains on `training`, validating on `held_out`, in run_dir (a finished run is kept, a broken one resumes)."""
  command = [sys.executable, "-m", "trainer", *arguments, f"--train_splits={','.join(training)}",
             f"--val_split={held_out}", f"--model_dir={run_dir}"]
  print(f"\n=== {os.path.basename(run_dir)}: training on {' + '.join(training)}, scoring on {held_out} ===\n"
        f"{' '.join(command)}", flush=True)
  if subprocess.run(command).returncode != 0:
    raise app.UsageError(f"Training in {run_dir} failed (its output is above). Fix the cause and rerun: "
                         "finished runs are kept, and this one resumes.")


def score_run(run_dir: str, held_out: str, batch_size: int) -> dict:
  """The run's final model scored on every image of `held_out` (no TTA, threshold 0.5)."""
  from evaluation import inference, scores, sources
  from pipeline.input_pipeline import make_eval_dataset
  model_path = os.path.join(run_dir, "model.keras")
  builder = sources.dataset_builder(inference.run_config(model_path), None, None)
  model, image_size = inference.load_classifier(model_path)
  print(f"Scoring {model_path} on {builder.info.full_name} ({builder.data_dir}), split {held_out} ...", flush=True)
  batches = make_eval_dataset(builder, held_out, image_size=image_size, batch_size=batch_size, cache=None,
                              metadata=("subject_id",))
  predicted = inference.predict_dataset(model, batches)
  return {**scores.classification_scores(predicted["label"], predicted["probability"]),
          "subjects": int(len(set(predicted["subject_id"])))}


def summarise(runs: list[dict]) -> dict:
  """Mean and sample standard deviation (n - 1) over runs of each reported score."""
  import numpy as np
  summary = {}
  for name in REPORTED:
    values = [r[name] for r in runs if r[name] is not None]
    summary[name] = {"mean": float(np.mean(values)) if values else None,
                     "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None}
  return summary


def _cell(value) -> str:
  return "n/a" if value is None else f"{value:.4f}"


def table(rows: dict[str, dict], summary: dict | None = None, first_column: str = "held out") -> str:
  """A Markdown table: a row per run (images, subjects, scores), then mean ± sd if given."""
  lines = [f"| {first_column} | images | subjects | " + " | ".join(REPORTED) + " |",
           "|---|---|---|" + "---|" * len(REPORTED)]
  for name, r in rows.items():
    lines.append(f"| {name} | {r['images']} | {r['subjects']} | " + " | ".join(_cell(r[n]) for n in REPORTED) + " |")
  if summary:
    lines.append("| mean ± sd | | | " + " | ".join(f"{_cell(summary[n]['mean'])} ± {_cell(summary[n]['sd'])}"
                                                  for n in REPORTED) + " |")
  return "\n".join(lines)
