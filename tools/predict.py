"""Predicts ALL/HEM for unlabelled cells and writes the challenge's submission file.

  python -m tools.predict --model_dir=runs/cnmc-real-effnetb3-300px --dataset=cnmc/real      # the test split
  python -m tools.predict --model=best.keras --images=~/C-NMC_Leukemia/testing_data/C-NMC_test_final_phase_data

Writes to --output_dir (default <model's folder>/predict-<split or folder name>):
  isbi_valid.predict  one 1 (ALL) or 0 (HEM) per line, line i for image i.bmp (numeric order)
  isbi_valid.zip      the same, zipped, as the challenge took it
  predictions.csv     file name, P(ALL), predicted class, for every image
The submission file is written when the images are named 1.bmp..N.bmp (the challenge's test sets);
other names get predictions.csv only. An image that cannot be read stops the run, naming it.
"""

import csv
import os

from absl import flags

from cnmc_tfds.vocabulary import CLASS_NAMES, TEST_SPLIT
from storage import paths
from cli import model_flags
from cli.main import run

flags.adopt_module_key_flags(model_flags)  # --help lists --model, --model_dir, --output_dir, ...

SPLIT = flags.DEFINE_string("split", TEST_SPLIT, "Split of --dataset to predict (ignored with --images).")
IMAGES = flags.DEFINE_string("images", None, "A folder of BMP/PNG cell images to predict instead of a split.")


def _batches(model_path: str, image_size: int):
  """(name of the source, batches of {"image", "file_name"}, number of images)."""
  from evaluation import image_folder, inference, sources
  batch_size = model_flags.BATCH_SIZE.value
  if IMAGES.value:
    folder = paths.expand_path(IMAGES.value)
    names = image_folder.list_images(folder)
    return (os.path.basename(os.path.normpath(folder)),
            image_folder.folder_batches(folder, names, image_size, batch_size), len(names))
  builder = sources.dataset_builder(inference.run_config(model_path), *model_flags.dataset_arguments())
  sources.check_split(builder, SPLIT.value, labelled=False)
  batches, total = sources.split_batches(builder, SPLIT.value, image_size, batch_size, metadata=("file_name",))
  print(f"Data: {builder.info.full_name} ({builder.data_dir}), split {SPLIT.value}")
  return SPLIT.value, batches, total


def _source_name() -> str:
  return os.path.basename(os.path.normpath(paths.expand_path(IMAGES.value))) if IMAGES.value else SPLIT.value


def predict(model_file: str | None, model_dir: str | None) -> str:
  from evaluation import inference, submission
  from storage import result_dirs

  output_dir = model_flags.output_dir(inference.resolve_model(model_file, model_dir), f"predict-{_source_name()}",
                                      "tools.predict")
  model, model_path, image_size = inference.load_run_model(model_file, model_dir)
  source, batches, total = _batches(model_path, image_size)
  print(f"Predicting {total} images of {source} with the model {model_path} ({image_size} px"
        f"{', TTA' if model_flags.TTA.value else ''}) ...", flush=True)
  predicted = inference.predict_dataset(model, batches, (model_flags.TTA.value,),
                                        progress=inference.Progress(total))
  probabilities = predicted["probability_tta" if model_flags.TTA.value else "probability"]
  names = [name.decode() for name in predicted["file_name"]]
  classes = (probabilities >= model_flags.THRESHOLD.value).astype(int)

  with result_dirs.result_dir(output_dir, "tools.predict", {"model": os.path.abspath(model_path)}) as scratch:
    if submission.numbered(names):
      order = submission.submission_order(names)
      zip_path = submission.write_submission(scratch, names, classes)
      message = f"Submission: {os.path.join(output_dir, os.path.basename(zip_path))} ({len(names)} lines)"
    else:
      order = sorted(range(len(names)), key=names.__getitem__)
      message = ("No isbi_valid.predict: the images are not named 1.bmp..N.bmp as in the challenge's test "
                 "sets; predictions.csv has every image.")
    with open(os.path.join(scratch, "predictions.csv"), "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(["file_name", "probability_all", "predicted_class", "predicted_label"])
      for i in order:
        writer.writerow([names[i], f"{probabilities[i]:.6f}", classes[i], CLASS_NAMES[classes[i]]])
  print(f"{classes.sum()} ALL, {len(classes) - classes.sum()} HEM (threshold {model_flags.THRESHOLD.value}).")
  print(message)
  print(f"Results in {output_dir}")
  return output_dir


if __name__ == "__main__":
  run(lambda: predict(*model_flags.model_arguments()))
