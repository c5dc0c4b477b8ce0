"""Settles, on a run's validation split and once, how far its P(ALL) can be taken at its word and where a cell is
called ALL.

  python -m tools.calibrate --model_dir=runs/first                          # the threshold stays 0.5
  python -m tools.calibrate --model_dir=runs/first --threshold_rule=best_f1

Predicts the run's best.keras (else model.keras) on the split the run validated on (from its config.json), fits
one temperature T (P(ALL) = sigmoid(logit / T), the T of least log loss: Guo et al., 2017) and chooses the
threshold by --threshold_rule on the rescaled P(ALL): 0.5, or the one that maximises the split's weighted F1.
Writes into the run folder calibration.json (T, the threshold and its rule, the expected calibration error and
Brier score before and after, the model file it holds for, by its sha256) and calibration.png (the reliability
diagram, also in TensorBoard under logs/calibration). tools.evaluate and tools.predict apply both whenever the
model file is the one calibrated, and say so; the test set never chooses anything. Run it again after
training on: a calibration of an earlier best.keras is ignored, with a warning.
"""

import os

from absl import flags

from cnmc.cli import model_flags
from cnmc.cli.main import run

flags.adopt_module_key_flags(model_flags)  # --help lists --model, --model_dir, --dataset, ...

RULE = flags.DEFINE_enum("threshold_rule", "0.5", ["0.5", "best_f1"], "How the decision threshold is chosen on the "
                         "split: 0.5, or the threshold that maximises its weighted F1.")
SPLIT = flags.DEFINE_string("split", None, "Labelled split to calibrate on; default: the run's validation split.")


def calibrate(model: str | None, model_dir: str | None, rule: str, split: str | None) -> dict:
  import tensorflow as tf
  from cnmc.evaluation import calibration, inference, sources
  from cnmc.pictures.grids import save_picture
  from cnmc.pictures.reliability import reliability_picture
  from cnmc.run_folder import layout, record
  from cnmc_tfds.vocabulary import VALIDATION_SPLIT

  classifier, path, size = inference.load_run_model(model, model_dir)
  run_record = inference.run_record(path)
  split = split or (run_record.val_split if run_record else VALIDATION_SPLIT)
  builder = sources.dataset_builder(run_record, *model_flags.dataset_arguments())
  sources.check_split(builder, split, labelled=True)
  batches, total = sources.split_batches(builder, split, size, model_flags.BATCH_SIZE.value, metadata=("file_name",))
  print(f"Calibrating {path} on {builder.info.full_name} {split} ({total} images) ...", flush=True)
  predicted = inference.predict_dataset(classifier, batches, total=total)
  found = {"model": os.path.basename(path), "model_sha256": calibration.model_digest(path),
           "dataset": builder.info.full_name, "split": split,
           **calibration.fit(predicted["label"], predicted["probability"], rule)}
  folder = os.path.dirname(os.path.abspath(path))
  tables = {f"{name} (T = {found['temperature']:.3f})" if name == "after" else name:
            {**found[name]["reliability"], "ece": found[name]["ece"]} for name in ("before", "after")}
  picture = reliability_picture(tables, f"{builder.info.full_name} {split}: {found['model']}")
  writer = tf.summary.create_file_writer(os.path.join(folder, layout.LOGS_DIR, "calibration"))
  save_picture(picture, os.path.join(folder, layout.CALIBRATION_PICTURE), writer, "calibration/reliability", 0)
  writer.close()
  record.write_calibration(folder, found)  # last: it is what evaluate and predict read
  print(f"Temperature {found['temperature']:.3f}: expected calibration error {found['before']['ece']:.4f} -> "
        f"{found['after']['ece']:.4f}, Brier score {found['before']['brier']:.4f} -> {found['after']['brier']:.4f}.")
  print(f"Threshold {found['threshold']:.4f} (rule {rule}, chosen on {split}).")
  print(f"Written: {os.path.join(folder, layout.CALIBRATION)} and {layout.CALIBRATION_PICTURE}; tools.evaluate and "
        "tools.predict apply them to this model file.")
  return found


if __name__ == "__main__":
  run(lambda: calibrate(*model_flags.single_model_arguments("tools.calibrate"), RULE.value, SPLIT.value))
