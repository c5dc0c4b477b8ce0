"""FusedColourJitter: brightness, contrast, saturation and hue as one 3x3 matrix + offset per image.

All four are linear in RGB once hue is rotated in YIQ space (hue is the angle of the (I, Q)
chroma vector, luma Y is untouched) and saturation scales (I, Q). Composing them gives one matrix
and one offset per image: one pass over the pixels instead of keras-cv's four layers with their
RGB <-> HSV round trips (slower, see BUILD.md), and draws that follow the layer's seed.
The background (black, where the cells were segmented out) stays black.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from pipeline.random_image_layer import RandomImageLayer

RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                        [0.595716, -0.274453, -0.321263],
                        [0.211456, -0.522591, 0.311135]], np.float32)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ).astype(np.float32)


def colour_matrices(saturation: tf.Tensor, hue: tf.Tensor) -> tf.Tensor:
  """(B,) saturation factors and hue angles (radians) -> (B, 3, 3) RGB -> RGB matrices."""
  cos, sin = tf.cos(hue), tf.sin(hue)
  zero, one = tf.zeros_like(hue), tf.ones_like(hue)
  # In YIQ: keep Y, rotate the chroma plane (I, Q) by the hue angle and scale it by the saturation.
  chroma = tf.stack([tf.stack([one, zero, zero], -1),
                     tf.stack([zero, saturation * cos, -saturation * sin], -1),
                     tf.stack([zero, saturation * sin, saturation * cos], -1)], -2)
  return tf.linalg.matmul(YIQ_TO_RGB, tf.linalg.matmul(chroma, RGB_TO_YIQ))


@keras.saving.register_keras_serializable(package="cnmc")
class FusedColourJitter(RandomImageLayer):
  """Random colour/stain jitter of cells on black, one affine colour map per image.

  Args:
    brightness: largest brightness shift as a fraction of 255, drawn in [-b, b].
    contrast: contrast factor in [1 - c, 1 + c], about the mean colour of the cell's pixels.
    saturation: saturation factor in [1 - s, 1 + s] (0 = grey, 1 = unchanged).
    hue: largest hue rotation as a fraction of the colour wheel, drawn in [-h, h].
    seed: makes the draws repeatable.
  Every factor 0: the identity. Input (B, H, W, 3) in [0, 255]; output float in [0, 255].
  Pixels that are black in every channel are background and stay black. Training only.
  """

  def __init__(self, brightness: float = 0.1, contrast: float = 0.1, saturation: float = 0.1,
               hue: float = 0.03, seed: int | None = None, **kwargs):
    super().__init__(seed=seed, **kwargs)
    for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation),
                        ("hue", hue)):
      if value < 0:
        raise ValueError(f"FusedColourJitter: {name} must be >= 0, got {value}.")
    if contrast >= 1 or saturation > 1:
      raise ValueError("FusedColourJitter: contrast must be < 1 and saturation <= 1 (factors stay >= 0).")
    self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue

  def get_random_transformation_batch(self, batch_size) -> dict[str, tf.Tensor]:
    """Each image's parameters: dict of (batch_size,) float32 tensors."""
    def uniform(limit):
      return self.uniform(batch_size, -limit, limit)
    return {"brightness": 255.0 * uniform(self.brightness), "contrast": 1.0 + uniform(self.contrast),
            "saturation": 1.0 + uniform(self.saturation), "hue": 2 * math.pi * uniform(self.hue)}

  def transform_images(self, images: tf.Tensor, transformation: dict[str, tf.Tensor]) -> tf.Tensor:
    """(B, H, W, 3) -> (B, H, W, 3) float32: x -> c * M x + (1 - c) * M mean + brightness, on cells."""
    images = tf.cast(images, tf.float32)
    cell = tf.cast(tf.reduce_max(images, axis=-1, keepdims=True) > 0, tf.float32)
    # The contrast pivot is the cell's mean colour: the black background would drag a plain mean down.
    mean = tf.reduce_sum(images * cell, axis=(1, 2)) / tf.maximum(tf.reduce_sum(cell, axis=(1, 2)), 1.0)
    matrix = colour_matrices(transformation["saturation"], transformation["hue"])
    contrast = transformation["contrast"][:, None]
    offset = (1 - contrast) * tf.einsum("bij,bj->bi", matrix, mean) + transformation["brightness"][:, None]
    out = tf.einsum("bhwj,bij->bhwi", images, contrast[:, :, None] * matrix) + offset[:, None, None, :]
    return tf.clip_by_value(out, 0.0, 255.0) * cell

  def get_config(self):
    return {**super().get_config(), "brightness": self.brightness, "contrast": self.contrast,
            "saturation": self.saturation, "hue": self.hue}
