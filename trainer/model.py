"""The classifier: uint8 cells -> augmentation -> input transform -> backbone preprocessing -> backbone -> P(ALL).

Augmentation and preprocessing are layers of the model, so they run on the accelerator inside the
(XLA-compiled) train step, and the exported model takes the same uint8 images the pipeline makes.
"""

import keras
import tensorflow as tf
from keras.src.losses.loss import unscale_loss_for_distribution  # as Keras' own train step scales its loss

from pipeline.augment import CellAugmentation
from pipeline.mixing import MixupCutmix
from pipeline.input_transforms import input_transform_layer
from cnmc.run_folder import layout
from trainer.backbones import Backbone
from trainer.weights import build_with_weights


class Classifier(keras.Model):
  """The model that trains: a functional chain whose training loss may smooth its targets (label_smoothing,
  set by the trainer) and whose train step may mix the augmented images (use_mixing). Validation losses and
  every metric see the true labels."""

  label_smoothing = 0.0
  mixing = None  # a pipeline.mixing.MixupCutmix, set by use_mixing with the two halves of the chain:
  augmentation = after_augmentation = None  # the images to the augmented images, and these to P(ALL)

  def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    if training and self.label_smoothing:
      y = keras.ops.cast(y, y_pred.dtype) * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
    return super().compute_loss(x, y, y_pred, sample_weight, training=training)

  def use_mixing(self, mixing: MixupCutmix) -> None:
    """Mix each training batch after the augmentation (an inactive mixer changes nothing)."""
    if mixing.active:
      augmented = self.get_layer("augmentation").output  # float in the compute dtype, augmentation or not
      self.mixing = mixing
      self.augmentation = keras.Model(self.input, augmented)
      self.after_augmentation = keras.Model(augmented, self.output)

  def train_step(self, data):
    """Keras' train step (TensorFlow backend), with the batch mixed between augmentation and the rest:
    the loss takes the soft targets, the metrics the hard labels."""
    if self.mixing is None:
      return super().train_step(data)
    images, labels, weights = keras.utils.unpack_x_y_sample_weight(data)
    mixed = self.mixing(self.augmentation(images, training=True), labels, weights)
    with tf.GradientTape() as tape:
      predicted = self.after_augmentation(mixed["images"], training=True)
      loss = self.compute_loss(y=mixed["targets"][:, None], y_pred=predicted, sample_weight=mixed["weights"],
                               training=True)
      self._loss_tracker.update_state(unscale_loss_for_distribution(loss), sample_weight=tf.shape(images)[0])
      scaled = self.optimizer.scale_loss(loss)
    gradients = tape.gradient(scaled, self.trainable_weights)
    self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
    return self.compute_metrics(images, mixed["labels"][:, None], predicted, sample_weight=mixed["label_weights"])


def build_classifier(backbone: Backbone, image_size: int, weights: str | None, augmentation: dict | None,
                     dropout: float, seed: int, input_transform: str = "rgb") -> tuple[keras.Model, keras.Model]:
  """The classifier to train: uint8 cells -> augmentation -> input transform -> preprocessing -> backbone
  -> P(ALL).

  Args:
    backbone: the registry entry to build.
    image_size: S; the model takes (B, S, S, 3) uint8.
    weights: None (random), "imagenet" or the path of a notop weights file.
    augmentation: CellAugmentation's settings, or None for none.
    dropout: the rate before the classification layer.
    seed: for the augmentation's and dropout's random draws.
    input_transform: "rgb" (none), "optical_density" or "stain_normalised" (pipeline/input_transforms.py).
  Returns:
    (classifier with output (B, 1) float32 P(ALL), its backbone sub-model).
  Raises:
    TrainerError: weights that cannot be had or do not fit the backbone.
  """
  inputs = keras.Input((image_size, image_size, 3), dtype="uint8", name="image")
  if augmentation:
    x = CellAugmentation(**augmentation, seed=seed, name="augmentation")(inputs)
  else:
    x = keras.layers.Identity(name="augmentation")(keras.ops.cast(inputs, keras.config.floatx()))
  transform = input_transform_layer(input_transform)
  if transform is not None:
    x = transform(x)
  preprocessing = backbone.preprocessing()
  if preprocessing is not None:
    x = preprocessing(x)
  base = build_with_weights(backbone, (image_size, image_size, 3), weights)
  x = base(x)
  x = keras.layers.GlobalAveragePooling2D(name=layout.FEATURE_LAYER)(x)  # the evaluation's cell embedding
  x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
  # The probability is computed in float32 even under mixed precision: a float16 sigmoid saturates.
  outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="probability")(x)
  return Classifier(inputs, outputs, name=f"cnmc_{backbone.name}"), base


def inference_model(model: keras.Model) -> keras.Model:
  """The classifier as it is exported: the same layers and weights, minus the augmentation.

  The augmentation is the identity at inference (a cast to float), so a Keras `Rescaling(1)` takes its
  place: the exported model holds only Keras' own layers and loads with `keras.saving.load_model`
  in a process that never imported this project (with an input transform other than rgb, that layer
  is kept and needs `import pipeline.input_transforms`). Input (B, S, S, 3) uint8; output (B, 1) P(ALL).
  """
  inputs = keras.Input(model.input_shape[1:], dtype="uint8", name="image")
  x = keras.layers.Rescaling(1.0, name="to_float")(inputs)  # casts uint8 to the compute dtype
  after_augmentation = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)][1:]
  for layer in after_augmentation:  # the classifier is a chain: replay it on the new input
    x = layer(x)
  return keras.Model(inputs, x, name=model.name)


def freeze_backbone(base: keras.Model) -> None:
  """Warm-up: only the new head trains; a frozen BatchNorm runs in inference mode (Keras 3)."""
  base.trainable = False


def unfreeze_backbone(base: keras.Model, keep_batchnorm_frozen: bool) -> None:
  """Fine-tuning: every layer trains, except BatchNorm when its ImageNet statistics should stay."""
  base.trainable = True
  if keep_batchnorm_frozen:
    for layer in base.layers:
      if isinstance(layer, keras.layers.BatchNormalization):
        layer.trainable = False
