"""Callbacks: throughput and learning rate in the logs, pictures for TensorBoard, a stepped profile."""

import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from cnmc.pictures.grids import captioned, confusion_matrix_picture, image_grid, save_picture, titled


class ThroughputAndLearningRate(keras.callbacks.Callback):
  """Adds `train_seconds` (the epoch's training steps, validation excluded), `images_per_second` (steady state: the
  steps after the epoch's first, which pays for tracing and compiling whenever a phase starts; only for epochs of
  at least MIN_STEPS steps), `learning_rate`, and under float16 `loss_scale` (the dynamic loss scale: it halves on
  every overflowing step, so a falling value is a warning)."""

  MIN_STEPS = 3  # the first step and at least two timed ones

  def __init__(self, global_batch_size: int):
    super().__init__()
    self.global_batch_size = global_batch_size

  def on_epoch_begin(self, epoch, logs=None):
    self._start, self._steps, self._first, self._last = time.perf_counter(), 0, None, None

  def on_train_batch_end(self, batch, logs=None):
    self._steps += 1
    self._last = time.perf_counter()
    if self._steps == 1:
      self._first = self._last

  def on_epoch_end(self, epoch, logs=None):
    if logs is None or not self._steps:
      return
    logs["train_seconds"] = self._last - self._start
    if self._steps >= self.MIN_STEPS:
      logs["images_per_second"] = (self._steps - 1) * self.global_batch_size / (self._last - self._first)
    logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
    if isinstance(self.model.optimizer, keras.optimizers.LossScaleOptimizer):
      logs["loss_scale"] = float(keras.ops.convert_to_numpy(self.model.optimizer.dynamic_scale))


class EpochProgress(keras.callbacks.ProgbarLogger):
  """Keras' progress output with each epoch's header counted over the whole run, as the console, history.csv and
  TensorBoard count: Keras counts to the end of the fit call, a phase ("Epoch 1/2" in a two-epoch warm-up of a
  ten-epoch run) and gives a phase of one epoch no header at all."""

  def __init__(self, run_epochs: int):
    super().__init__()
    self.run_epochs = run_epochs

  def set_params(self, params):
    super().set_params(params)
    self.epochs = self.run_epochs  # used for the header only


class EpochSummaries(keras.callbacks.TensorBoard):
  """Keras' TensorBoard callback with epochs counted from 1, as the console and history.csv count them, and each
  epoch's summaries on disk when it ends (Keras flushes at the end of fit, which an interrupted run never
  reaches; a Ctrl-C ends the process without waiting: cnmc/console/exits.py)."""

  def on_epoch_end(self, epoch, logs=None):
    super().on_epoch_end(epoch + 1, logs)
    for writer in self._writers.values():
      writer.flush()


class ConfusionMatrixPicture(keras.callbacks.Callback):
  """Draws the validation confusion matrix each epoch (TensorBoard), titled with its epoch and score, and writes
  it as the PNG when the epoch is the best so far by `monitor` (the epoch best.keras and results.json hold).

  `metric` is one of the model's compiled confusion metrics: when validation ends, its state holds
  the validation counts (Keras resets metrics before evaluating), so no extra pass is needed.
  """

  def __init__(self, metric, log_dir: str, png_path: str, best: float | None, monitor: str = "val_weighted_f1"):
    super().__init__()
    self.metric, self.png_path, self.best, self.monitor = metric, png_path, best, monitor
    self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "validation"))
    self._counts = None

  def on_epoch_begin(self, epoch, logs=None):
    self._counts = None

  def on_test_end(self, logs=None):
    self._counts = self.metric.count_values()

  def on_epoch_end(self, epoch, logs=None):
    if self._counts is None:
      return
    score = (logs or {}).get(self.monitor)
    improved = score is not None and math.isfinite(score) and (self.best is None or score > self.best)
    self.best = score if improved else self.best
    title = f"validation, epoch {epoch + 1}" + (f": weighted F1 {score:.4f}" if score is not None else "")
    save_picture(titled(confusion_matrix_picture(**self._counts), title), self.png_path if improved else None,
                 self.writer, "confusion_matrix", epoch + 1)  # epochs from 1, as EpochSummaries counts them


class AugmentedSamples(keras.callbacks.Callback):
  """At the start of training, shows what the augmentation (and mixup/cutmix) does to a batch (TensorBoard +
  PNG): each row an original, augmented, and with mixing on, mixed with its partner and captioned with its
  target, the share of ALL the loss takes."""

  def __init__(self, images: np.ndarray, labels: np.ndarray, augmentation: keras.layers.Layer | None, mixing,
               log_dir: str, png_path: str):
    super().__init__()
    self.images, self.labels, self.augmentation, self.mixing = images, labels, augmentation, mixing
    self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "train"))
    self.png_path = png_path

  def on_train_begin(self, logs=None):
    images = self.images.astype(np.float32)
    columns, names = [images], ["original"]
    if self.augmentation is not None:
      images = keras.ops.convert_to_numpy(self.augmentation(images, training=True)).astype(np.float32)
      columns.append(images)
      names.append("augmented")
    if self.mixing is not None:
      mixed = self.mixing(images, self.labels)
      targets = keras.ops.convert_to_numpy(mixed["targets"])
      columns.append(captioned(keras.ops.convert_to_numpy(mixed["images"]), [f"ALL {t:.2f}" for t in targets]))
      names.append("mixed, captioned with its target")
    rows = np.concatenate(columns, axis=2)  # the columns side by side in each row
    save_picture(titled(image_grid(rows, columns=2), "each: " + " | ".join(names)), self.png_path, self.writer,
                 "augmented_samples", 0)


class ProfileSteps(keras.callbacks.Callback):
  """Profiles train steps first..last of the run with step markers, for TensorBoard's Profile tab.

  Steps count over the whole run (epoch * steps_per_epoch + batch), so one range is profiled once,
  whichever phase or resumed process reaches it. Keras' TensorBoard(profile_batch=...) records no
  step markers ("No step marker observed"), so the overview and input-pipeline pages cannot split
  step time; each step here runs inside tf.profiler.experimental.Trace("train", step_num=..., _r=1).
  """

  def __init__(self, log_dir: str, first: int, last: int, steps_per_epoch: int):
    super().__init__()
    self.log_dir, self.first, self.last, self.steps_per_epoch = log_dir, first, last, steps_per_epoch
    self.step, self._trace, self._running = 0, None, False

  def on_epoch_begin(self, epoch, logs=None):
    self.step = epoch * self.steps_per_epoch

  def on_train_batch_begin(self, batch, logs=None):
    if self.step == self.first and not self._running:
      tf.profiler.experimental.start(self.log_dir)
      self._running = True
    if self._running:
      self._trace = tf.profiler.experimental.Trace("train", step_num=self.step, _r=1)
      self._trace.__enter__()

  def on_train_batch_end(self, batch, logs=None):
    if self._trace is not None:
      self._trace.__exit__(None, None, None)
      self._trace = None
    if self._running and self.step == self.last:
      self._stop()
    self.step += 1

  def on_train_end(self, logs=None):
    self._stop()

  def _stop(self):
    if self._running:
      tf.profiler.experimental.stop()
      self._running = False
      logging.info("Profile of steps %d-%d written under %s (TensorBoard: Profile tab).",
                   self.first, self.last, self.log_dir)
