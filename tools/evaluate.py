"""Scores a trained classifier on a labelled split, per cell and per subject.

  python -m tools.evaluate --model_dir=runs/cnmc-synthetic-effnetb3-300px            # its validation split
  python -m tools.evaluate --model=best.keras --dataset=cnmc/real --split=validation --tta

Reports accuracy, weighted F1 (the challenge metric), macro F1, AUC, sensitivity (ALL recall),
specificity (HEM recall), the confusion matrix, and per subject the accuracy and the majority vote
of its cells. With --tta, every score is reported without and with test-time augmentation.
Writes to --output_dir (default <model's folder>/eval-<split>): metrics.json, predictions.csv,
subjects.csv, roc.png, confusion_matrix.png and TensorBoard images in logs/.
"""

import csv
import json
import os

from absl import flags

from cli import model_flags
from cli.main import run

flags.adopt_module_key_flags(model_flags)  # --help lists --model, --model_dir, --output_dir, ...

SPLIT = flags.DEFINE_string("split", None, "Labelled split to score; default: the run's validation split "
                            "(from its config.json), else validation.")


def _write_csv(path: str, rows: list[dict]) -> None:
  with open(path, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def evaluate(model_file: str | None, model_dir: str | None, split: str | None) -> dict:
  import tensorflow as tf
  from evaluation import inference, scores, sources
  from evaluation.plots import roc_picture
  from storage import result_dirs
  from trainer.pictures import confusion_matrix_picture, save_picture

  model_path = inference.resolve_model(model_file, model_dir)
  run_config = inference.run_config(model_path)
  split = split or run_config.get("flags", {}).get("val_split", "validation")
  output_dir = model_flags.output_dir(model_path, f"eval-{split}", "tools.evaluate")
  model, model_path, image_size = inference.load_run_model(model_file, model_dir)
  builder = sources.dataset_builder(run_config, *model_flags.dataset_arguments())
  sources.check_split(builder, split, labelled=True)
  batches, total = sources.split_batches(builder, split, image_size, model_flags.BATCH_SIZE.value,
                                        metadata=("subject_id", "file_name"))
  print(f"Scoring the model {model_path}\n  on {builder.info.full_name} ({builder.data_dir}), split {split}: "
        f"{total} images, {image_size} px{', with and without TTA' if model_flags.TTA.value else ''} ...", flush=True)
  modes = (False, True) if model_flags.TTA.value else (False,)
  predicted = inference.predict_dataset(model, batches, modes, progress=inference.Progress(total))

  threshold = model_flags.THRESHOLD.value
  columns = {"plain": "probability", **({"tta": "probability_tta"} if model_flags.TTA.value else {})}
  labels, subjects = predicted["label"], predicted["subject_id"]
  results = {
      "model": os.path.abspath(model_path), "dataset": builder.info.full_name, "split": split,
      "image_size": image_size, "threshold": threshold,
      "scores": {name: scores.classification_scores(labels, predicted[key], threshold)
                 for name, key in columns.items()},
      "per_subject": {name: scores.subject_scores(labels, predicted[key], subjects, threshold)
                      for name, key in columns.items()},
  }
  with result_dirs.result_dir(output_dir, "tools.evaluate", {"model": results["model"]}) as scratch:
    with open(os.path.join(scratch, "metrics.json"), "w") as f:
      json.dump(results, f, indent=2)
    _write_csv(os.path.join(scratch, "predictions.csv"), [
        {"file_name": name.decode(), "subject_id": subject.decode(), "label": int(label),
         **{key: f"{predicted[key][i]:.6f}" for key in columns.values()}}
        for i, (name, subject, label) in enumerate(zip(predicted["file_name"], subjects, labels, strict=True))])
    _write_csv(os.path.join(scratch, "subjects.csv"),
               [{"tta": name == "tta", **row} for name, table in results["per_subject"].items()
                for row in table["subjects"]])
    writer = tf.summary.create_file_writer(os.path.join(scratch, "logs"))
    if results["scores"]["plain"]["auc"] is not None:
      roc = roc_picture(labels, {("TTA" if name == "tta" else "no TTA"): predicted[key]
                                 for name, key in columns.items()}, f"{builder.info.full_name} {split}")
      save_picture(roc, os.path.join(scratch, "roc.png"), writer, f"evaluate/{split}/roc", 0)
    for name in columns:
      picture = confusion_matrix_picture(**results["scores"][name]["confusion"])
      suffix = "_tta" if name == "tta" else ""
      save_picture(picture, os.path.join(scratch, f"confusion_matrix{suffix}.png"), writer,
                   f"evaluate/{split}/confusion_matrix{suffix}", 0)
    writer.close()

  print(scores.format_scores(results["scores"]))
  for name, table in results["per_subject"].items():
    print(f"\nPer subject ({'with' if name == 'tta' else 'without'} TTA):\n{scores.format_subjects(table)}")
  print(f"\nResults in {output_dir}")
  return results


if __name__ == "__main__":
  run(lambda: evaluate(*model_flags.model_arguments(), SPLIT.value))
