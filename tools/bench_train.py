"""Training images/s of the full system against the notebook approach, measured in one run.

  python -m tools.bench_train                         # EfficientNetB3, 128 px, batch 16
  python -m tools.bench_train --backbone=inception_resnet_v2 --image_size=299 --batch_size=32

Both train the same backbone, from the same random init, at the same size and batch, in epochs of
--steps steps; the second epoch is timed (the first pays for tracing):
  notebook  Keras 2's ImageDataGenerator.flow_from_directory on the BMP files (rotation 20, shifts,
            shear, zoom, flip on the CPU) feeding model.fit (needs the `notebook` extra)
  system    `python -m trainer` as shipped: TFRecords -> cached uint8 -> on-device augmentation;
            a third epoch is profiled (not timed: the profiler slows steps), for the input-wait share.
Writes JSON and prints a table.
"""

import os
import time

from absl import app, flags, logging

from cli import bench_data
from storage import atomic

_BACKBONE = flags.DEFINE_string("backbone", "effnetb3", "Backbone for both.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 128, "Input size for both.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Batch size for both.")
_STEPS = flags.DEFINE_integer("steps", 20, "Training steps per epoch; the second epoch is timed.")
_OUTPUT = flags.DEFINE_string("output", "bench_train.json", "Where to write the JSON results.")


def measure_notebook(folder: str, backbone_name: str, size: int, batch: int, steps: int) -> float | None:
  """img/s of the timed epoch: ImageDataGenerator batches into model.fit of the same classifier."""
  try:
    from tf_keras.preprocessing.image import ImageDataGenerator
  except ImportError:
    logging.warning("Skipping the notebook approach: install the `notebook` extra (tf-keras, scipy).")
    return None
  import keras
  from cli.bench_data import ROTATION_DEGREES, SHEAR, SHIFT, ZOOM
  from trainer import backbones
  from trainer.callbacks import ThroughputAndLearningRate
  from trainer.model import build_classifier

  keras.utils.set_random_seed(0)
  flow = ImageDataGenerator(rotation_range=ROTATION_DEGREES, width_shift_range=SHIFT, height_shift_range=SHIFT,
                            shear_range=SHEAR, zoom_range=ZOOM, horizontal_flip=True).flow_from_directory(
      folder, target_size=(size, size), batch_size=batch, class_mode="binary", follow_links=True)
  # The same classifier without the on-device augmentation (the generator augmented on the CPU).
  model, _ = build_classifier(backbones.get_backbone(backbone_name), size, None, None, 0.3, seed=0)
  model.compile(optimizer="adam", loss="binary_crossentropy")
  throughput = ThroughputAndLearningRate(batch)
  history = model.fit(((x.astype("uint8"), y) for x, y in flow), steps_per_epoch=steps, epochs=2,
                      callbacks=[throughput], verbose=0)
  return history.history["images_per_second"][-1]


def measure_system(data_dir: str, builder, backbone_name: str, size: int, batch: int, steps: int) -> dict:
  """img/s of the second epoch of the shipped trainer, and the input wait in the third's profile."""
  import dataclasses
  from tools.profile_summary import newest_profile, summarise
  from trainer.config import TrainConfig
  from trainer.train import run
  model_dir = os.path.join(data_dir, f"bench_train_{backbone_name}_{size}_{int(time.time())}")
  config = dataclasses.replace(
      TrainConfig(), backbone=backbone_name, weights="none", dataset=f"cnmc/{builder.builder_config.name}",
      data_dir=data_dir, image_size=size, batch_size=batch, epochs=3, warmup_epochs=0, steps_per_epoch=steps,
      validation_steps=1, model_dir=model_dir, saved_model=False,
      profile_steps=(2 * steps + 1, 3 * steps - 2))  # inside the third epoch

  run(config, builder=builder)
  with open(os.path.join(model_dir, "history.csv")) as f:
    header, *rows = [line.strip().split(",") for line in f]
  rate = float(rows[1][header.index("images_per_second")])  # the second epoch, as for the notebook
  return {"images_per_second": rate, "profile": summarise(newest_profile(model_dir))}


def main(argv):
  del argv
  from cli.bench_data import build_benchmark_data
  logging.set_verbosity(logging.WARNING)
  size, batch, steps = _IMAGE_SIZE.value, _BATCH_SIZE.value, _STEPS.value
  print(f"Building the benchmark data in {bench_data.DATA_DIR.value} (once; reused afterwards) ...", flush=True)
  builder, folder = build_benchmark_data(bench_data.DATA_DIR.value, bench_data.IMAGES_SCALE.value)
  print("[1/2] training with ImageDataGenerator (notebook) ...", flush=True)
  notebook = measure_notebook(folder, _BACKBONE.value, size, batch, steps)
  print("[2/2] training with the full system ...", flush=True)
  system = measure_system(bench_data.DATA_DIR.value, builder, _BACKBONE.value, size, batch, steps)
  rate = system["images_per_second"]
  print(f"{'what':40}{'img/s':>10}")
  print(f"{'notebook: ImageDataGenerator + fit':40}{notebook if notebook is not None else float('nan'):10.1f}")
  print(f"{'full system (python -m trainer)':40}{rate:10.1f}")
  if notebook:
    print(f"full system / notebook: {rate / notebook:.2f}x")
  profile = system["profile"]
  print(f"profile of the third epoch: step {profile['step_time_ms']:.0f} ms, waiting for input "
        f"{100 * profile['input_wait_share']:.1f}% ({profile['conclusion']})")
  atomic.write_json(_OUTPUT.value, report(notebook, system, {
      "backbone": _BACKBONE.value, "image_size": size, "batch_size": batch, "steps": steps,
      "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}))


def report(notebook: float | None, system: dict, settings: dict) -> dict:
  """The JSON file: settings, both rates, and the ratio computed from them (None without the baseline)."""
  rate = system["images_per_second"]
  return {"settings": settings, "notebook_images_per_second": notebook, "system": system,
          "system_vs_notebook": rate / notebook if notebook else None}


if __name__ == "__main__":
  app.run(main)
