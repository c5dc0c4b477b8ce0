"""Scores a trained classifier on a labelled split, per cell and per subject.

  python -m tools.evaluate --model_dir=runs/cnmc-synthetic-effnetb3-300px            # its validation split
  python -m tools.evaluate --model=best.keras --dataset=cnmc/real --split=validation --tta

  python -m tools.evaluate --model_dir=runs/a --model_dir=runs/b --tta --neighbour_correction   # an ensemble

Reports accuracy, weighted F1 (the challenge metric), macro F1, AUC, sensitivity (ALL recall),
specificity (HEM recall), the confusion matrix, and per subject the accuracy and the majority vote
of its cells, for every method side by side: the model (with --tta also its test-time augmentation);
with several models each member, their average (ensemble, ensemble_tta); with --neighbour_correction
the last of those corrected by each cell's nearest neighbours. Every score and the subject vote come with
a 95 % interval from a bootstrap over subjects (ALL and HEM subjects resampled separately, each with all its
cells; seeded): cells of one subject are correlated, so the subjects, not the cells, set how sure a score
is; the subject-level AUC (of each subject's mean P(ALL)) has its own. The expected calibration error and Brier
score say how far P(ALL) can be taken at its word. A model calibrated by tools.calibrate gets its temperature and
(unless --threshold is given) its threshold, chosen on its validation split. Writes to --output_dir (default
<first model's folder>/eval-<split>[-ensembleN]): metrics.json, predictions.csv, subjects.csv, roc.png,
roc_subjects.png, reliability.png, confusion_matrix*.png and TensorBoard images in logs/.
"""

import csv
import json
import os

from absl import flags

from cnmc.cli import model_flags, scoring_flags
from cnmc_tfds.vocabulary import VALIDATION_SPLIT, file_order
from cnmc.cli.main import run

flags.adopt_module_key_flags(model_flags)  # --help lists --model, --model_dir, --output_dir, ...
flags.adopt_module_key_flags(scoring_flags)

SPLIT = flags.DEFINE_string("split", None, "Labelled split to score; default: the run's validation split "
                            "(from its config.json), else validation.")


def _write_csv(path: str, rows: list[dict]) -> None:
  with open(path, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def evaluate(models: list[str], model_dirs: list[str], split: str | None) -> dict:
  import tensorflow as tf
  from cnmc.evaluation import calibration, ensembles, inference, scores, sources
  from cnmc.statistics import intervals
  from cnmc.pictures.roc import roc_picture
  from cnmc.storage import result_dirs
  from cnmc.pictures.grids import confusion_matrix_picture, save_picture, titled
  from cnmc.pictures.reliability import reliability_picture

  first = ensembles.first_model_path(models, model_dirs)
  count = len(models) + len(model_dirs)
  run = inference.run_record(first)
  split = split or (run.val_split if run else VALIDATION_SPLIT)
  output_dir = model_flags.output_dir(first, f"eval-{split}" + (f"-ensemble{count}" if count > 1 else ""),
                                      "tools.evaluate")
  members = ensembles.load_members(models, model_dirs)
  dataset_arguments = model_flags.dataset_arguments()
  builder = sources.dataset_builder(ensembles.run_record(members, bool(dataset_arguments[0])), *dataset_arguments)
  sources.check_split(builder, split, labelled=True)
  tta, (k, weight) = scoring_flags.TTA.value, scoring_flags.neighbour_arguments()
  total = builder.info.splits[split].num_examples
  print(f"Scoring {'the model ' + members[0].path if count == 1 else f'an ensemble of {count} models'}\n"
        f"  on {builder.info.full_name} ({builder.data_dir}), split {split}: {total} images"
        f"{', with and without TTA' if tta else ''}{f', neighbourhood correction k={k} weight={weight}' if k else ''}"
        " ...", flush=True)

  def read(image_size):
    return sources.split_batches(builder, split, image_size, model_flags.BATCH_SIZE.value,
                                 metadata=("subject_id", "file_name"))[0]

  threshold, decided_by = ensembles.decision_threshold(members, model_flags.THRESHOLD.value,
                                                   flags.FLAGS["threshold"].present)
  chosen_here = len(members) == 1 and (members[0].calibration or {}).get("split") == split
  print("\n".join([*ensembles.calibration_lines(members), f"Threshold {threshold:g} ({decided_by})."
                   + (" It was chosen on this split, so the scores below are optimistic." if chosen_here else "")]),
        flush=True)
  predicted = ensembles.predict_members(members, read, (False, True) if tta else (False,), features=k > 0,
                                        total=total)
  columns = ensembles.combine(predicted, tta, k, weight)
  labels, subjects = predicted[0]["label"], predicted[0]["subject_id"]
  results = {
      "models": [os.path.abspath(m.path) for m in members], "dataset": builder.info.full_name, "split": split,
      "image_sizes": [m.image_size for m in members], "threshold": threshold, "threshold_source": decided_by,
      "calibrations": [{key: m.calibration[key] for key in ("temperature", "threshold", "rule", "split", "images")}
                       if m.calibration else None for m in members],
      "neighbour_correction": {"neighbours": k, "weight": weight} if k else None,
      "scores": {name: scores.classification_scores(labels, p, threshold) for name, p in columns.items()},
      "per_subject": {name: scores.subject_scores(labels, p, subjects, threshold) for name, p in columns.items()},
      # 95 % over subjects: a resample draws ALL and HEM subjects (each with all its cells) separately
      "intervals": {name: intervals.method_intervals(labels, p, subjects, threshold) for name, p in columns.items()},
      # how far P(ALL) can be taken at its word: expected calibration error, Brier score, reliability per bin
      "calibration": {name: {**calibration.calibration_scores(labels, p), "reliability": calibration.reliability(
          labels, p)} for name, p in columns.items()},
  }
  with result_dirs.result_dir(output_dir, "tools.evaluate", {"model": results["models"][0]}) as scratch:
    with open(os.path.join(scratch, "metrics.json"), "w") as f:
      json.dump(results, f, indent=2)
    names = [name.decode() for name in predicted[0]["file_name"]]
    _write_csv(os.path.join(scratch, "predictions.csv"), [  # in the split's order: 1.bmp, 2.bmp, ...
        {"file_name": names[i], "subject_id": subjects[i].decode(), "label": int(labels[i]),
         **{ensembles.csv_column(method): f"{p[i]:.6f}" for method, p in columns.items()}}
        for i in file_order(names)])
    _write_csv(os.path.join(scratch, "subjects.csv"),
               [{"method": name, **row} for name, table in results["per_subject"].items() for row in table["subjects"]])
    writer = tf.summary.create_file_writer(os.path.join(scratch, "logs"))
    if results["scores"][next(iter(columns))]["auc"] is not None:
      roc = roc_picture(labels, columns, f"{builder.info.full_name} {split}")
      save_picture(roc, os.path.join(scratch, "roc.png"), writer, f"evaluate/{split}/roc", 0)
      truth, means = scores.subject_means(labels, columns, subjects)
      roc = roc_picture(truth, means, f"{builder.info.full_name} {split}, per subject (mean P(ALL))")
      save_picture(roc, os.path.join(scratch, "roc_subjects.png"), writer, f"evaluate/{split}/roc_subjects", 0)
    reliability = reliability_picture({name: {**found["reliability"], "ece": found["ece"]}
                                       for name, found in results["calibration"].items()},
                                      f"{builder.info.full_name} {split}")
    save_picture(reliability, os.path.join(scratch, "reliability.png"), writer, f"evaluate/{split}/reliability", 0)
    for name in columns:
      suffix = "" if name == "plain" else f"_{name}"
      picture = titled(confusion_matrix_picture(**results["scores"][name]["confusion"]),
                       f"{builder.info.full_name} {split}, {name}")
      save_picture(picture, os.path.join(scratch, f"confusion_matrix{suffix}.png"), writer,
                   f"evaluate/{split}/confusion_matrix{suffix}", 0)
    writer.close()

  votes = {name: table["vote_accuracy"] for name, table in results["per_subject"].items()}
  print(scores.format_scores(results["scores"], votes))
  print("(auc: exact, by scikit-learn; the trainer's val_auc is Keras' approximation over 200 thresholds, which "
        "reads 0.5 when P(ALL) hardly varies.)")
  print(f"\n95 % intervals over subjects ({intervals.RESAMPLES} resamples, ALL and HEM subjects drawn separately):")
  for name, found in results["intervals"].items():
    print(f"  {name}: {intervals.format_intervals(found)}")
  print("\nCalibration: " + "; ".join(f"{name} ECE {found['ece']:.4f}, Brier {found['brier']:.4f}"
                                     for name, found in results["calibration"].items()))
  last = list(columns)[-1]
  print(f"\nPer subject ({last}):\n{scores.format_subjects(results['per_subject'][last])}")
  print(f"\nResults in {output_dir}")
  return results


if __name__ == "__main__":
  run(lambda: evaluate(*model_flags.model_arguments(), SPLIT.value))
