"""Grad-CAM (Selvaraju et al., 2017): where in the cell the backbone's last feature map drove the call.

For each image, the gradient of the predicted class's logit with respect to the backbone's output
feature map is averaged over space to weigh its channels; the ReLU of the weighted sum, upsampled
to the image and scaled to [0, 1], is the heatmap. Works on any saved classifier `trainer.model` builds
(image -> [input transform, preprocessing] -> backbone -> pooling -> dropout -> sigmoid Dense; older ones
also cast uint8 in a first layer).
"""

import keras
import matplotlib
import numpy as np
import tensorflow as tf

from cnmc.evaluation.errors import EvaluationError


def _split_at_backbone(model: keras.Model):
  """(layers before the backbone, the backbone, layers after it but before the Dense, the Dense)."""
  layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
  backbones = [i for i, layer in enumerate(layers) if isinstance(layer, keras.Model)]
  dense = layers[-1]
  if not backbones or not isinstance(dense, keras.layers.Dense) or dense.units != 1:
    raise EvaluationError(f"Grad-CAM needs a model built by the trainer (a backbone model followed by a "
                          f"one-unit Dense); {model.name} has layers {[layer.name for layer in layers]}.")
  b = backbones[-1]
  return layers[:b], layers[b], layers[b + 1:-1], dense


def make_gradcam_fn(model: keras.Model):
  """Returns fn(images (B, S, S, 3) uint8) -> (heatmaps (B, S, S) float32 in [0, 1], P(ALL) (B,))."""
  before, backbone, after, dense = _split_at_backbone(model)

  @tf.function(reduce_retracing=True)
  def gradcam(images):
    x = tf.cast(images, tf.float32)
    for layer in before:
      x = layer(x, training=False)
    with tf.GradientTape() as tape:
      features = backbone(x, training=False)
      tape.watch(features)
      pooled = features
      for layer in after:
        pooled = layer(pooled, training=False)
      # The logit itself, not the sigmoid: a saturated probability would leave no gradient.
      logit = tf.squeeze(tf.matmul(tf.cast(pooled, tf.float32), tf.cast(dense.kernel, tf.float32)) +
                         tf.cast(dense.bias, tf.float32), axis=-1)
      called_all = logit >= 0.0
      score = tf.where(called_all, logit, -logit)  # explain the class the model called
    gradients = tf.cast(tape.gradient(score, features), tf.float32)
    channel_weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(channel_weights * tf.cast(features, tf.float32), axis=-1))
    cam = tf.image.resize(cam[..., None], tf.shape(images)[1:3], method="bilinear")[..., 0]
    peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
    return tf.math.divide_no_nan(cam, peak), tf.sigmoid(logit)
  return gradcam


def overlay(images: np.ndarray, heatmaps: np.ndarray, strength: float = 0.45) -> np.ndarray:
  """Blends a 'jet' colouring of each heatmap over its image: (B, S, S, 3) uint8."""
  colours = matplotlib.colormaps["jet"](heatmaps)[..., :3] * 255.0
  blended = (1 - strength) * images.astype(np.float32) + strength * colours
  return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def sample_calls(labels: np.ndarray, probabilities: np.ndarray, threshold: float, count: int,
                 seed: int) -> dict[str, list[int]]:
  """Indices of up to `count` correctly and `count` wrongly called cells, drawn at random, each list sorted.

  Args:
    labels: (N,) 1 = ALL, 0 = HEM. probabilities: (N,) P(ALL). A cell is called ALL at >= threshold.
  """
  called = (np.asarray(probabilities) >= threshold).astype(int)
  correct = called == np.asarray(labels)
  rng = np.random.default_rng(seed)
  return {group: sorted(rng.permutation(np.flatnonzero(mask))[:count].tolist())
          for group, mask in (("correct", correct), ("wrong", ~correct))}


def images_at(batches, indices: list[int]) -> dict[int, np.ndarray]:
  """The images at the given positions of a finite stream of {"image"} batches (read once, in order)."""
  wanted, images, offset = sorted(indices), {}, 0
  for batch in batches:
    size = len(batch["image"])
    for i in wanted:
      if offset <= i < offset + size:
        images[i] = batch["image"][i - offset].numpy()
    offset += size
  return images
