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


def measure_overhead(data_dir: str, builder, backbone_name: str, size: int, batch: int, steps: int, rounds: int,
                     progress=print) -> dict:
  """The trainer's own cost: `python -m trainer`'s run against a bare `model.fit` of the same model (the same
  classifier and train step, optimizer, metrics, precision and XLA) on the same batches and validation, each for
  3 epochs of `steps` steps, in turns, `rounds` times. Per round: the steady-state step time of epochs 2-3 (the
  per-step callbacks) and the epoch's wall time (validation, commits, pictures, everything) of epochs 2-3.
  Returns {"trainer", "bare": {"ms_per_step", "seconds_per_epoch"} medians, "step_ratio", "epoch_ratio" medians of
  the per-round ratios, "settings"}."""
  import dataclasses
  import statistics
  from trainer.config import TrainConfig
  from trainer.train import run
  config = dataclasses.replace(
      TrainConfig(), backbone=backbone_name, weights="none", dataset=f"cnmc/{builder.builder_config.name}",
      data_dir=data_dir, image_size=size, batch_size=batch, epochs=3, warmup_epochs=0, steps_per_epoch=steps,
      validation_steps=2, saved_model=False, profile_steps=(0, 0))
  measured = {"trainer": [], "bare": []}
  for round_number in range(rounds):
    for name in ("trainer", "bare") if round_number % 2 == 0 else ("bare", "trainer"):
      progress(f"round {round_number + 1} of {rounds}: {name} ...")
      clock = _EpochClock()
      if name == "trainer":
        model_dir = os.path.join(data_dir, f"bench_overhead_{backbone_name}_{size}_{time.time_ns()}")
        run(dataclasses.replace(config, model_dir=model_dir), extra_callbacks=[clock], builder=builder)
        rates = [row["images_per_second"] for row in record.read_history(model_dir)[1:]]
      else:
        rates = _bare_fit(config, builder, clock)
      measured[name].append({"ms_per_step": statistics.median(1000 * batch / r for r in rates),
                             "seconds_per_epoch": statistics.median(clock.seconds[1:])})
  def median(name, key):
    return statistics.median(m[key] for m in measured[name])
  def ratio(key):
    return statistics.median(t[key] / b[key] for t, b in zip(measured["trainer"], measured["bare"], strict=True))
  return {"trainer": {key: median("trainer", key) for key in ("ms_per_step", "seconds_per_epoch")},
          "bare": {key: median("bare", key) for key in ("ms_per_step", "seconds_per_epoch")},
          "step_ratio": ratio("ms_per_step"), "epoch_ratio": ratio("seconds_per_epoch"), "rounds": measured,
          "settings": {"backbone": backbone_name, "image_size": size, "batch_size": batch, "steps": steps,
                       "rounds": rounds, "epochs": 3, "validation_steps": config.validation_steps}}


class _EpochClock:
  """A Keras callback (made lazily: no TensorFlow at import) recording each epoch's wall time."""

  def __new__(cls):
    import keras

    class EpochClock(keras.callbacks.Callback):
      def __init__(self):
        super().__init__()
        self.seconds = []

      def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

      def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

    return EpochClock()


def _bare_fit(config, builder, clock) -> list[float]:
  """model.fit of the trainer's model, compiled as the trainer compiles it, on the trainer's batches: the
  steady-state images/s of epochs 2-3 (the step time ThroughputAndLearningRate measures, its only callback)."""
  import keras
  from trainer import backbones, data, recipe, runtime
  from trainer.callbacks import ThroughputAndLearningRate
  from trainer.metrics import training_metrics
  from trainer.model import build_classifier, train_step_for
  decided = runtime.decide(config.mixed_precision, config.xla, "one_device", deterministic=False)
  keras.mixed_precision.set_global_policy(decided.precision)
  keras.utils.set_random_seed(config.seed)
  counts = data.check_splits(builder, config)
  train_ds = data.train_input(builder, config, config.image_size, decided.strategy, counts)
  val_ds = data.val_input(builder, config, config.image_size)
  classifier, _ = build_classifier(backbones.get_backbone(config.backbone), config.image_size, None, config.dropout,
                                   config.seed, config.input_transform)
  model = train_step_for(classifier, config)
  model.compile(optimizer=recipe.optimizer(config.optimizer, config.learning_rate, config.lr_schedule,
                                           config.steps_per_epoch * config.epochs, config.warmup_steps,
                                           config.clipnorm, config.ema_decay),
                loss=keras.losses.BinaryCrossentropy(), metrics=training_metrics(), jit_compile=decided.xla)
  timer = ThroughputAndLearningRate(config.effective_batch_size)
  history = model.fit(train_ds, steps_per_epoch=config.steps_per_epoch, epochs=config.epochs, validation_data=val_ds,
                      callbacks=[timer, clock], verbose=0, shuffle=False)
  keras.mixed_precision.set_global_policy("float32")
  return history.history["images_per_second"][1:]
