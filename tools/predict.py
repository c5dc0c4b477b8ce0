"""Predicts ALL/HEM for unlabelled cells and writes the challenge's submission file.

  python -m tools.predict --model_dir=runs/cnmc-real-effnetb3-300px --dataset=cnmc/real      # the test split
  python -m tools.predict --model=best.keras --images=~/C-NMC_Leukemia/testing_data/C-NMC_test_final_phase_data
  python -m tools.predict --model_dir=runs/a --model_dir=runs/b --tta --neighbour_correction --dataset=cnmc/real

Writes to --output_dir (default <model's folder>/predict-<split or folder name>):
  isbi_valid.predict  one 1 (ALL) or 0 (HEM) per line, line i for image i.bmp (numeric order)
  isbi_valid.zip      the same, zipped, as the challenge took it
  predictions.csv     file name, P(ALL), predicted class, for every image (and each member's P(ALL) and the
                      uncorrected ensemble's, for an ensemble or --neighbour_correction)
  decision.json       the threshold and where it came from, and each model's calibration if applied
A run calibrated by tools.calibrate gets its temperature applied to P(ALL) and, unless --threshold is given,
its threshold, chosen on its validation split: the test set never chooses it.
The submission uses the last method: the corrected ensemble with --neighbour_correction, else the
ensemble (the mean P(ALL) of the models, each with TTA if --tta), else the one model.
The submission file is written when the images are named 1.bmp..N.bmp (the challenge's test sets);
other names get predictions.csv only. An image that cannot be read stops the run, naming it.
"""

import csv
import json
import os

from absl import flags

from cnmc_tfds.vocabulary import CLASS_NAMES, TEST_SPLIT, file_order
from cnmc.storage import paths
from cnmc.cli import model_flags, scoring_flags
from cnmc.cli.main import run

flags.adopt_module_key_flags(model_flags)  # --help lists --model, --model_dir, --output_dir, ...
flags.adopt_module_key_flags(scoring_flags)

SPLIT = flags.DEFINE_string("split", TEST_SPLIT, "Split of --dataset to predict (ignored with --images).")
IMAGES = flags.DEFINE_string("images", None, "A folder of BMP/PNG cell images to predict instead of a split.")


def _reader(run):
  """(name of the source, read(image_size) -> batches of {"image", "file_name"}, number of images)."""
  from cnmc.evaluation import image_folder, sources
  batch_size = model_flags.BATCH_SIZE.value
  if IMAGES.value:
    folder = paths.expand_path(IMAGES.value)
    names = image_folder.list_images(folder)
    return (os.path.basename(os.path.normpath(folder)),
            lambda size: image_folder.folder_batches(folder, names, size, batch_size), len(names))
  builder = sources.dataset_builder(run, *model_flags.dataset_arguments())
  sources.check_split(builder, SPLIT.value, labelled=False)
  total = builder.info.splits[SPLIT.value].num_examples
  print(f"Data: {builder.info.full_name} ({builder.data_dir}), split {SPLIT.value}")
  return (SPLIT.value, lambda size: sources.split_batches(builder, SPLIT.value, size, batch_size,
                                                           metadata=("file_name",))[0], total)


def _source_name() -> str:
  return os.path.basename(os.path.normpath(paths.expand_path(IMAGES.value))) if IMAGES.value else SPLIT.value


def predict(models: list[str], model_dirs: list[str]) -> str:
  from cnmc.evaluation import ensembles, submission
  from cnmc.storage import result_dirs

  count = len(models) + len(model_dirs)
  first = ensembles.first_model_path(models, model_dirs)
  output_dir = model_flags.output_dir(first, f"predict-{_source_name()}" + (f"-ensemble{count}" if count > 1 else ""),
                                      "tools.predict")
  members = ensembles.load_members(models, model_dirs)
  source, read, total = _reader(ensembles.run_record(members, bool(model_flags.DATASET.value)))
  tta, (k, weight) = scoring_flags.TTA.value, scoring_flags.neighbour_arguments()
  threshold, decided_by = ensembles.decision_threshold(members, model_flags.THRESHOLD.value,
                                                   flags.FLAGS["threshold"].present)
  print("\n".join([*ensembles.calibration_lines(members), f"Threshold {threshold:g} ({decided_by})."]), flush=True)
  print(f"Predicting {total} images of {source} with {members[0].path if count == 1 else f'{count} models'}"
        f"{', TTA' if tta else ''}{f', neighbourhood correction k={k} weight={weight}' if k else ''} ...", flush=True)
  predicted = ensembles.predict_members(members, read, (tta,), features=k > 0, total=total)
  if tta:  # only the TTA'd probabilities were computed: they are each member's answer
    predicted = [{**p, "probability": p["probability_tta"]} for p in predicted]
  columns = ensembles.combine(predicted, False, k, weight)
  method = list(columns)[-1]  # the corrected ensemble if asked, else the ensemble, else the model
  probabilities = columns[method]
  names = [name.decode() for name in predicted[0]["file_name"]]
  classes = (probabilities >= threshold).astype(int)

  with result_dirs.result_dir(output_dir, "tools.predict", {"model": os.path.abspath(members[0].path)}) as scratch:
    if submission.numbered(names):
      order = submission.submission_order(names)
      zip_path = submission.write_submission(scratch, names, classes)
      message = f"Submission: {os.path.join(output_dir, os.path.basename(zip_path))} ({len(names)} lines)"
    else:
      order = file_order(names)
      message = ("No isbi_valid.predict: the images are not named 1.bmp..N.bmp as in the challenge's test "
                 "sets; predictions.csv has every image.")
    with open(os.path.join(scratch, "decision.json"), "w") as f:  # how the calls were made, beside them
      json.dump({"threshold": threshold, "threshold_source": decided_by, "method": method,
                 "calibrations": [m.calibration and {key: m.calibration[key] for key in
                                                     ("model", "temperature", "threshold", "rule", "split", "images")}
                                  for m in members]}, f, indent=2)
    with open(os.path.join(scratch, "predictions.csv"), "w", newline="") as f:
      writer = csv.writer(f)
      others = [name for name in columns if name != method]
      writer.writerow(["file_name", "probability_all", "predicted_class", "predicted_label",
                       *(ensembles.csv_column(name) for name in others)])
      for i in order:
        writer.writerow([names[i], f"{probabilities[i]:.6f}", classes[i], CLASS_NAMES[classes[i]],
                         *(f"{columns[name][i]:.6f}" for name in others)])
  print(f"{classes.sum()} ALL, {len(classes) - classes.sum()} HEM (threshold {threshold:g}; {method}).")
  print(message)
  print(f"Results in {output_dir}")
  return output_dir


if __name__ == "__main__":
  run(lambda: predict(*model_flags.model_arguments()))
