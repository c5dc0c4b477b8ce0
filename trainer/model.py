"""The classifier (images -> input transform -> backbone preprocessing -> backbone -> P(ALL)) and the step that
trains it (augmentation, mixup/cutmix, label smoothing and gradient accumulation).

The classifier is the model and nothing else: it is what best.keras, model.keras and saved_model/ hold,
built from Keras' own layers. The training's machinery lives in `TrainStep.train_step`, which runs on the
accelerator inside the (XLA-compiled) step: the pipeline hands it uint8 batches, and it augments, mixes,
splits the batch into micro-batches and applies their summed gradients in one unconditional update.
"""

import keras
import tensorflow as tf
from keras.src.losses.loss import unscale_loss_for_distribution  # as Keras' own train step scales its loss

from cnmc.run_folder import layout
from pipeline.augment import CellAugmentation
from pipeline.input_transforms import input_transform_layer
from pipeline.mixing import MixupCutmix
from trainer.backbones import Backbone
from trainer.config import AUGMENTATIONS, TrainConfig
from trainer.weights import build_with_weights


def build_classifier(backbone: Backbone, image_size: int, weights: str | None, dropout: float, seed: int,
                     input_transform: str = "rgb") -> tuple[keras.Model, keras.Model]:
  """The classifier: images -> input transform -> preprocessing -> backbone -> pooling -> dropout -> P(ALL).

  Args:
    backbone: the registry entry to build.
    image_size: S; the model takes (B, S, S, 3) images with values 0-255 (uint8 as the pipeline makes them,
      or float, as the train step's augmented ones are).
    weights: None (random), "imagenet" or the path of a notop weights file.
    dropout: the rate before the classification layer.
    seed: for dropout's random draws.
    input_transform: "rgb" (none), "optical_density" or "stain_normalised" (pipeline/input_transforms.py).
  Returns:
    (classifier, a plain keras.Model with output (B, 1) float32 P(ALL); its backbone sub-model).
  Raises:
    TrainerError: weights that cannot be had or do not fit the backbone.
  """
  inputs = keras.Input((image_size, image_size, 3), name="image")  # float32: uint8 is cast on the device
  x = inputs
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
  return keras.Model(inputs, outputs, name=f"cnmc_{backbone.name}"), base


class TrainStep(keras.Model):
  """The classifier's own graph (the very layers and weights, saved under the same names) with the step that
  trains it; made by `train_step_for`. `fit` calls `train_step` per replica with one global batch of
  --batch_size x --accumulation_steps images:
    1. augment every image (CellAugmentation; none: a cast to float);
    2. split the batch into `accumulation_steps` micro-batches and mix each (mixup/cutmix, pairs inside it);
    3. for each micro-batch in turn, the loss (soft targets, smoothed labels) and its gradient, summed;
    4. one unconditional apply of the mean gradient, which every tf.distribute strategy synchronises.
  Validation and every metric see the true labels (the mixed batch's metrics: the larger share's label).
  """

  augmentation = None  # a CellAugmentation, or None
  mixing = None  # an active MixupCutmix, or None
  label_smoothing = 0.0
  accumulation_steps = 1

  def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    if training and self.label_smoothing:
      y = keras.ops.cast(y, y_pred.dtype) * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
    return super().compute_loss(x, y, y_pred, sample_weight, training=training)

  def _augmented(self, images):
    if self.augmentation is None:
      return tf.cast(images, self.compute_dtype)
    return self.augmentation(images, training=True)

  def _micro_batches(self, images, labels, weights) -> list[dict]:
    """The batch in `accumulation_steps` equal parts, each mixed: dicts of images, targets and weights for the
    loss, labels and label_weights for the metrics."""
    labels = tf.cast(tf.reshape(labels, [-1]), tf.float32)
    weights = tf.ones_like(labels) if weights is None else tf.cast(tf.reshape(weights, [-1]), tf.float32)
    parts = zip(*(tf.split(t, self.accumulation_steps) for t in (images, labels, weights)), strict=True)
    if self.mixing is None:
      return [dict(images=part, targets=truth, weights=weight, labels=truth, label_weights=weight)
              for part, truth, weight in parts]
    return [self.mixing(part, truth, weight) for part, truth, weight in parts]

  def _gradients(self, batch: dict) -> list:
    """One micro-batch's loss, tracked, and the gradient of its share of the update."""
    with tf.GradientTape() as tape:
      predicted = self(batch["images"], training=True)
      loss = self.compute_loss(y=batch["targets"][:, None], y_pred=predicted, sample_weight=batch["weights"],
                               training=True)
      self._loss_tracker.update_state(unscale_loss_for_distribution(loss),
                                      sample_weight=tf.shape(batch["images"])[0])
      scaled = self.optimizer.scale_loss(loss / self.accumulation_steps)  # the mean over the micro-batches
    self.compute_metrics(batch["images"], batch["labels"][:, None], predicted, sample_weight=batch["label_weights"])
    gradients = tape.gradient(scaled, self.trainable_weights)
    return [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(gradients, self.trainable_weights, strict=True)]

  def train_step(self, data):
    images, labels, weights = keras.utils.unpack_x_y_sample_weight(data)
    micro_batches = self._micro_batches(self._augmented(images), labels, weights)
    if len(micro_batches) == 1:
      gradients = self._gradients(micro_batches[0])
    else:  # a loop, not k copies of the model in the compiled graph; in order, as the random draws advance
      stacked = {key: tf.stack([batch[key] for batch in micro_batches]) for key in micro_batches[0]}

      def accumulate(index, summed):
        batch = {key: value[index] for key, value in stacked.items()}
        return index + 1, [s + g for s, g in zip(summed, self._gradients(batch), strict=True)]

      zeros = [tf.zeros_like(v) for v in self.trainable_weights]
      _, gradients = tf.while_loop(lambda index, _: index < len(micro_batches), accumulate,
                                   (tf.constant(0), zeros), parallel_iterations=1)
    self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
    return self.get_metrics_result()


def train_step_for(classifier: keras.Model, config: TrainConfig) -> TrainStep:
  """The classifier with the step --augmentation, --mixup_alpha/--cutmix_alpha/--mix_probability,
  --label_smoothing and --accumulation_steps ask for (seeded by --seed). Compile and fit the result; save the
  classifier."""
  step = TrainStep(classifier.input, classifier.output, name=classifier.name)
  augmentation = AUGMENTATIONS[config.augmentation]
  if augmentation:
    step.augmentation = CellAugmentation(**augmentation, seed=config.seed, name="augmentation")
  mixing = MixupCutmix(config.mixup_alpha, config.cutmix_alpha, config.mix_probability, seed=config.seed + 2,
                       name="mixing")
  if mixing.active:
    step.mixing = mixing
  step.label_smoothing, step.accumulation_steps = config.label_smoothing, config.accumulation_steps
  return step


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
