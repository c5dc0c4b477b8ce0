"""Grad-CAM heatmaps for a sample of correctly and wrongly classified validation cells.

  python -m tools.gradcam --model_dir=runs/cnmc-synthetic-effnetb3-300px
  python -m tools.gradcam --model=best.keras --dataset=cnmc/real --split=validation --count=16

Each tile shows the cell and its heatmap (red: where the evidence for the called class was), with
the true class, the call and P(ALL). Writes to --output_dir (default <model's folder>/gradcam-<split>):
correct.png, wrong.png, cells.json (which cells) and the same pictures for TensorBoard in logs/.
"""

import json
import os

from absl import flags

from cnmc_tfds.vocabulary import ALL, CLASS_NAMES, HEM, VALIDATION_SPLIT
from cnmc.cli import model_flags
from cnmc.cli.main import run

flags.adopt_module_key_flags(model_flags)  # --help lists --model, --model_dir, --output_dir, ...

SPLIT = flags.DEFINE_string("split", None, "Labelled split to sample from; default: the run's validation "
                            "split (from its config.json), else validation.")
COUNT = flags.DEFINE_integer("count", 8, "Cells per group (correct, wrong).", lower_bound=1)
SEED = flags.DEFINE_integer("seed", 0, "Seed of the sample.", lower_bound=0)

_TILE_COLUMNS = 2  # cell | overlay pairs per row of the picture


def _caption(label: int, probability: float, name: str) -> str:
  called = CLASS_NAMES[ALL if probability >= model_flags.THRESHOLD.value else HEM].upper()
  return f"{name}\ntrue {CLASS_NAMES[label].upper()}, called {called}, P(ALL) {probability:.2f}"


def gradcam(model_file: str | None, model_dir: str | None) -> str:
  import numpy as np
  import tensorflow as tf
  from cnmc.evaluation import inference, sources
  from cnmc.evaluation.gradcam import images_at, make_gradcam_fn, overlay, sample_calls
  from cnmc.storage import result_dirs
  from cnmc.pictures.grids import captioned_pair, image_grid, save_picture

  model_path = inference.resolve_model(model_file, model_dir)
  run = inference.run_record(model_path)
  split = SPLIT.value or (run.val_split if run else VALIDATION_SPLIT)
  output_dir = model_flags.output_dir(model_path, f"gradcam-{split}", "tools.gradcam")
  model, model_path, image_size = inference.load_run_model(model_file, model_dir)
  builder = sources.dataset_builder(run, *model_flags.dataset_arguments())
  sources.check_split(builder, split, labelled=True)

  def batches():
    return sources.split_batches(builder, split, image_size, model_flags.BATCH_SIZE.value, ("file_name",))[0]

  total = builder.info.splits[split].num_examples
  print(f"Predicting {total} images of {builder.info.full_name} ({builder.data_dir}), split {split}, with the model "
        f"{model_path}, to find correct and wrong calls ...", flush=True)
  predicted = inference.predict_dataset(model, batches(), total=total)
  chosen = sample_calls(predicted["label"], predicted["probability"], model_flags.THRESHOLD.value, COUNT.value,
                        SEED.value)
  images = images_at(batches(), [i for indices in chosen.values() for i in indices])  # the split's order is fixed

  explain = make_gradcam_fn(model)
  cells = {}
  with result_dirs.result_dir(output_dir, "tools.gradcam", {"model": os.path.abspath(model_path)}) as scratch:
    writer = tf.summary.create_file_writer(os.path.join(scratch, "logs"))
    for group, indices in chosen.items():
      if not indices:
        print(f"No {group} calls in {split}: no {group}.png.")
        continue
      stack = np.stack([images[i] for i in indices])
      heatmaps, probabilities = (t.numpy() for t in explain(stack))
      tiles = [captioned_pair(stack[k], over, _caption(int(predicted["label"][i]), float(probabilities[k]),
                                                       predicted["file_name"][i].decode()))
               for k, (i, over) in enumerate(zip(indices, overlay(stack, heatmaps), strict=True))]
      save_picture(image_grid(np.stack(tiles), columns=_TILE_COLUMNS), os.path.join(scratch, f"{group}.png"),
                   writer, f"gradcam/{split}/{group}", 0)
      cells[group] = [{"file_name": predicted["file_name"][i].decode(), "label": int(predicted["label"][i]),
                       "probability_all": float(probabilities[k])} for k, i in enumerate(indices)]
    writer.close()
    with open(os.path.join(scratch, "cells.json"), "w") as f:
      json.dump({"model": os.path.abspath(model_path), "split": split, **cells}, f, indent=2)
  print(f"Grad-CAM of {len(chosen['correct'])} correct and {len(chosen['wrong'])} wrong cells in {output_dir}")
  return output_dir


if __name__ == "__main__":
  run(lambda: gradcam(*model_flags.single_model_arguments("tools.gradcam")))
