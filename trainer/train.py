"""One training run in --model_dir: its phases, callbacks and outputs.

  python -m trainer --backbone=effnetb3 --dataset=cnmc/synthetic

With pretrained weights a run has two phases: a warm-up that trains only the new head on the
frozen backbone, then fine-tuning of everything (BatchNorm kept frozen, with its ImageNet
statistics) at a lower, decaying learning rate. With --weights=none there is one phase.
A killed run resumes where it stopped: each phase backs up every epoch, and a finished phase
leaves its weights so that a restart skips it.
"""

import csv
import dataclasses
import json
import os

import keras
import tensorflow as tf
from absl import logging

from trainer import backbones, data, runtime as runtime_lib
from trainer.callbacks import AugmentedSamples, ConfusionMatrixPicture, ProfileSteps, ThroughputAndLearningRate
from trainer.config import AUGMENTATIONS, TrainConfig, check_model_dir, dataset_label
from trainer.metrics import WeightedF1, training_metrics
from trainer.model import build_classifier, freeze_backbone, unfreeze_backbone
from trainer.weights import resolve_weights

MONITOR = "val_weighted_f1"  # the challenge's metric picks the best checkpoint


@dataclasses.dataclass(frozen=True)
class Phase:
  name: str
  first_epoch: int
  end_epoch: int  # exclusive
  learning_rate: float
  schedule: str
  backbone_frozen: bool
  keep_batchnorm_frozen: bool


def plan_phases(config: TrainConfig, pretrained: bool) -> list[Phase]:
  if not pretrained:  # nothing to protect from a random head: train everything from the start
    return [Phase("train", 0, config.epochs, config.learning_rate, config.lr_schedule, False, False)]
  phases = []
  if config.warmup_epochs:
    phases.append(Phase("warmup", 0, config.warmup_epochs, config.learning_rate, "constant", True, False))
  if config.epochs > config.warmup_epochs:
    phases.append(Phase("fine_tune", config.warmup_epochs, config.epochs, config.fine_tune_learning_rate,
                        config.lr_schedule, False, True))
  return phases


def default_model_dir(config: TrainConfig, image_size: int) -> str:
  return os.path.join("runs", f"{dataset_label(config.dataset)}-{config.backbone}-{image_size}px")


def _optimizer(name: str, learning_rate: float, schedule: str, decay_steps: int) -> keras.optimizers.Optimizer:
  if schedule == "cosine":
    learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, decay_steps))
  if name == "sgd":
    return keras.optimizers.SGD(learning_rate, momentum=0.9)
  if name == "adamw":
    return keras.optimizers.AdamW(learning_rate)
  return keras.optimizers.Adam(learning_rate)


def _best_so_far(history_csv: str) -> tuple[int, float] | None:
  """(epoch, val weighted F1) of the best epoch logged so far, across phases and restarts."""
  if not os.path.exists(history_csv):
    return None
  with open(history_csv) as f:
    rows = [r for r in csv.DictReader(f) if r.get(MONITOR)]
  if not rows:
    return None
  best = max(rows, key=lambda r: float(r[MONITOR]))
  return int(best["epoch"]), float(best[MONITOR])


def _write_config(model_dir: str, config: TrainConfig, runtime: runtime_lib.Runtime, builder, image_size: int):
  resolved = {
      "flags": config.to_json(),
      "resolved": {"image_size": image_size, "model_dir": model_dir, **runtime.to_json()},
      "dataset": {"name": builder.name, "config": builder.builder_config.name, "version": str(builder.version),
                  "data_dir": str(builder.data_dir)},
      "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
  }
  os.makedirs(model_dir, exist_ok=True)
  with open(os.path.join(model_dir, "config.json"), "w") as f:
    json.dump(resolved, f, indent=2)


def _callbacks(phase: Phase, model_dir: str, config: TrainConfig, model, metrics, sample_images, extra) -> list:
  logs = os.path.join(model_dir, "logs")
  best = _best_so_far(os.path.join(model_dir, "history.csv"))
  confusion = next(m for m in metrics if isinstance(m, WeightedF1))
  callbacks = [
      ThroughputAndLearningRate(config.batch_size),
      ConfusionMatrixPicture(confusion, logs, os.path.join(model_dir, "confusion_matrix.png")),
      keras.callbacks.BackupAndRestore(os.path.join(model_dir, "backup", phase.name)),
      keras.callbacks.ModelCheckpoint(os.path.join(model_dir, "best.keras"), monitor=MONITOR, mode="max",
                                      save_best_only=True, initial_value_threshold=best[1] if best else None),
      keras.callbacks.CSVLogger(os.path.join(model_dir, "history.csv"), append=True),
      keras.callbacks.TensorBoard(logs, write_graph=False, profile_batch=0),
  ]
  if config.profile_steps != (0, 0):
    callbacks.append(ProfileSteps(os.path.join(logs, "train"), *config.profile_steps))
  if AUGMENTATIONS[config.augmentation] and phase.first_epoch == 0:
    callbacks.append(AugmentedSamples(sample_images, model.get_layer("augmentation"), logs,
                                      os.path.join(model_dir, "augmented_samples.png")))
  return callbacks + list(extra)


def _export(model: keras.Model, model_dir: str, saved_model: bool) -> None:
  model.save(os.path.join(model_dir, "model.keras"))
  if saved_model:
    model.export(os.path.join(model_dir, "saved_model"), format="tf_saved_model", verbose=False)


def run(config: TrainConfig, extra_callbacks=(), builder=None) -> dict:
  """Trains as configured; returns the results also written to <model_dir>/results.json.

  builder: an already-built TFDS builder to use instead of config.dataset (tools and tests pass
  custom synthetic configs this way).
  """
  backbone = backbones.get_backbone(config.backbone)
  image_size = config.image_size or backbone.default_size
  backbones.check_image_size(backbone, image_size)
  weights = resolve_weights(config.weights)
  model_dir = config.model_dir or default_model_dir(config, image_size)
  check_model_dir(config, model_dir)
  results_path = os.path.join(model_dir, "results.json")
  if os.path.exists(results_path):
    logging.info("%s holds a finished run; nothing to do (pass a new --model_dir to train again).", model_dir)
    with open(results_path) as f:
      return json.load(f)

  keras.utils.set_random_seed(config.seed)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  runtime = runtime_lib.decide(config.mixed_precision, config.xla, config.strategy, config.deterministic)
  keras.mixed_precision.set_global_policy(runtime.precision)
  builder = builder or data.load_builder(config.dataset, config.data_dir, config.manual_dir)
  data.check_splits(builder, config)
  _write_config(model_dir, config, runtime, builder, image_size)

  train_ds, steps, class_weight = data.train_input(builder, config, image_size, runtime.strategy)
  val_ds = data.val_input(builder, config, image_size)
  sample_images = data.sample_images(builder, config, image_size)
  with runtime.strategy.scope():
    model, base = build_classifier(backbone, image_size, weights, AUGMENTATIONS[config.augmentation],
                                   config.dropout, config.seed)

  for phase in plan_phases(config, pretrained=weights is not None):
    done_weights = os.path.join(model_dir, "phases", f"{phase.name}.weights.h5")
    if os.path.exists(done_weights):
      logging.info("Phase %s finished in an earlier run: loading its weights.", phase.name)
      model.load_weights(done_weights)
      continue
    logging.info("Phase %s: epochs %d-%d, learning rate %g (%s)%s.", phase.name, phase.first_epoch + 1,
                 phase.end_epoch, phase.learning_rate, phase.schedule, ", backbone frozen" if phase.backbone_frozen else "")
    with runtime.strategy.scope():
      (freeze_backbone(base) if phase.backbone_frozen else unfreeze_backbone(base, phase.keep_batchnorm_frozen))
      metrics = training_metrics()
      model.compile(optimizer=_optimizer(config.optimizer, phase.learning_rate, phase.schedule,
                                         steps * (phase.end_epoch - phase.first_epoch)),
                    loss=keras.losses.BinaryCrossentropy(), metrics=metrics, jit_compile=runtime.xla)
    model.fit(train_ds, initial_epoch=phase.first_epoch, epochs=phase.end_epoch, steps_per_epoch=steps,
              validation_data=val_ds, validation_steps=config.validation_steps or None, class_weight=class_weight,
              shuffle=False,  # the pipeline shuffles
              callbacks=_callbacks(phase, model_dir, config, model, metrics, sample_images, extra_callbacks),
              verbose="auto")
    os.makedirs(os.path.dirname(done_weights), exist_ok=True)
    model.save_weights(done_weights)

  _export(model, model_dir, config.saved_model)
  best_epoch, best_f1 = _best_so_far(os.path.join(model_dir, "history.csv")) or (None, None)
  results = {"best_epoch": best_epoch + 1 if best_epoch is not None else None, "best_val_weighted_f1": best_f1,
             "best_model": os.path.join(model_dir, "best.keras"), "final_model": os.path.join(model_dir, "model.keras"),
             "saved_model": os.path.join(model_dir, "saved_model") if config.saved_model else None}
  with open(results_path, "w") as f:
    json.dump(results, f, indent=2)
  print(f"Done: {config.backbone} on {config.dataset}, {config.epochs} epochs; best validation weighted F1 "
        f"{best_f1:.4f} at epoch {results['best_epoch']}. Outputs in {model_dir}.")
  return results
