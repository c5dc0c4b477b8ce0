"""Training images/s of the shipped trainer against the notebooks' approach (see tools/bench_train.py)."""

import os
import time

from absl import logging

from cnmc.run_folder import record


def measure_notebook(folder: str, backbone_name: str, size: int, batch: int, steps: int) -> float | None:
  """img/s of the timed epoch: ImageDataGenerator batches into model.fit of the same classifier."""
  try:
    from tf_keras.preprocessing.image import ImageDataGenerator
  except ImportError:
    logging.warning("Skipping the notebook approach: install the `notebook` extra (tf-keras, scipy).")
    return None
  import keras
  from cnmc.benchmarks.data import ROTATION_DEGREES, SHEAR, SHIFT, ZOOM
  from trainer import backbones
  from trainer.callbacks import ThroughputAndLearningRate
  from trainer.model import build_classifier

  keras.utils.set_random_seed(0)
  flow = ImageDataGenerator(rotation_range=ROTATION_DEGREES, width_shift_range=SHIFT, height_shift_range=SHIFT,
                            shear_range=SHEAR, zoom_range=ZOOM, horizontal_flip=True).flow_from_directory(
      folder, target_size=(size, size), batch_size=batch, class_mode="binary", follow_links=True)
  # The same classifier without the on-device augmentation (the generator augmented on the CPU).
  model, _ = build_classifier(backbones.get_backbone(backbone_name), size, None, 0.3, seed=0)
  model.compile(optimizer="adam", loss="binary_crossentropy")
  throughput = ThroughputAndLearningRate(batch)
  history = model.fit(((x.astype("uint8"), y) for x, y in flow), steps_per_epoch=steps, epochs=2,
                      callbacks=[throughput], verbose=0)
  return history.history["images_per_second"][-1]


def measure_system(data_dir: str, builder, backbone_name: str, size: int, batch: int, steps: int) -> dict:
  """img/s of the second epoch of the shipped trainer, and the input wait in the third's profile."""
  import dataclasses
  from trainer.profiles import newest_profile, summarise
  from trainer.config import TrainConfig
  from trainer.train import run
  model_dir = os.path.join(data_dir, f"bench_train_{backbone_name}_{size}_{int(time.time())}")
  config = dataclasses.replace(
      TrainConfig(), backbone=backbone_name, weights="none", dataset=f"cnmc/{builder.builder_config.name}",
      data_dir=data_dir, image_size=size, batch_size=batch, epochs=3, warmup_epochs=0, steps_per_epoch=steps,
      validation_steps=1, model_dir=model_dir, saved_model=False,
      profile_steps=(2 * steps + 1, 3 * steps - 2))  # inside the third epoch

  run(config, builder=builder)
  rate = record.read_history(model_dir)[1]["images_per_second"]  # the second epoch, as for the notebook
  return {"images_per_second": rate, "profile": summarise(newest_profile(model_dir))}


def report(notebook: float | None, system: dict, settings: dict) -> dict:
  """The JSON file: settings, both rates, and the ratio computed from them (None without the baseline)."""
  rate = system["images_per_second"]
  return {"settings": settings, "notebook_images_per_second": notebook, "system": system,
          "system_vs_notebook": rate / notebook if notebook else None}
