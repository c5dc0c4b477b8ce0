"""FusedRandomAffine: rotation, shift, shear, zoom and flips in one bilinear resample, XLA-ready.

Keras' and keras-cv's geometric layers use ImageProjectiveTransformV3, which has no XLA kernel:
one of them in a model makes Keras drop XLA for the whole train step. This layer composes all five
transforms into one 2x2 matrix + shift per image and resamples once with plain gathers, which XLA
compiles. One resample instead of four also means one interpolation blur instead of four.
Pixels that map from outside the image are black, like the background the cells sit on.
"""

import math

import keras
import tensorflow as tf

from pipeline.augmentation_presets import NOTEBOOK
from pipeline.random_image_layer import RandomImageLayer


@keras.saving.register_keras_serializable(package="cnmc")
class FusedRandomAffine(RandomImageLayer):
  """Random affine augmentation of a batch of images, one matrix per image.

  Args:
    rotation: largest rotation in degrees, drawn uniformly in [-rotation, rotation]
      (180 = any orientation, sensible for cells).
    shift: largest shift as a fraction of height/width, per axis.
    shear: largest shear, as the tangent of the shear angle (0.2 ~ 11 degrees).
    zoom: scale drawn uniformly in [1 - zoom, 1 + zoom], the same on both axes (cells keep
      their aspect ratio); > 1 enlarges.
    horizontal_flip, vertical_flip: flip with probability 1/2.
    seed: makes the draws repeatable.

  With every range 0 and no flips the layer is the identity. Input (B, H, W, C) of any real or
  integer dtype with values in [0, 255]; output the same shape in the layer's compute dtype.
  Only applied when training; at inference the input passes through (cast).
  """

  def __init__(self, rotation: float = NOTEBOOK["rotation"], shift: float = NOTEBOOK["shift"],
               shear: float = NOTEBOOK["shear"], zoom: float = NOTEBOOK["zoom"],
               horizontal_flip: bool = NOTEBOOK["horizontal_flip"], vertical_flip: bool = NOTEBOOK["vertical_flip"],
               seed: int | None = None, **kwargs):
    super().__init__(seed=seed, **kwargs)
    for name, value in (("rotation", rotation), ("shift", shift), ("shear", shear), ("zoom", zoom)):
      if value < 0:
        raise ValueError(f"FusedRandomAffine: {name} must be >= 0, got {value}.")
    if zoom >= 1:
      raise ValueError(f"FusedRandomAffine: zoom must be < 1 (scales stay positive), got {zoom}.")
    self.rotation, self.shift, self.shear, self.zoom = rotation, shift, shear, zoom
    self.horizontal_flip, self.vertical_flip = horizontal_flip, vertical_flip

  def get_random_transformation_batch(self, batch_size) -> dict[str, tf.Tensor]:
    """Draws each image's parameters: dict of (batch_size,) float32 tensors."""
    def uniform(limit):
      return self.uniform(batch_size, -limit, limit)

    def flip(enabled):
      if not enabled:
        return tf.ones((batch_size,))
      coin = self.uniform(batch_size, 0, 1)
      return tf.where(coin < 0.5, -1.0, 1.0)

    return {
        "angle": uniform(self.rotation * math.pi / 180),
        "shift_x": uniform(self.shift),
        "shift_y": uniform(self.shift),
        "shear": uniform(self.shear),
        "scale": 1.0 + uniform(self.zoom),
        "flip_x": flip(self.horizontal_flip),
        "flip_y": flip(self.vertical_flip),
    }

  def transform_images(self, images: tf.Tensor, transformation: dict[str, tf.Tensor]) -> tf.Tensor:
    """Applies the drawn transforms: (B, H, W, C) -> (B, H, W, C) float32, black outside."""
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    t = {k: v[:, None, None] for k, v in transformation.items()}  # broadcast over the pixel grid

    # Forward map about the image centre: out = R(angle) . Shear . scale . Flip . (in - c) + c + shift.
    cos, sin = tf.cos(t["angle"]), tf.sin(t["angle"])
    a = cos * t["scale"] * t["flip_x"]
    b = (cos * t["shear"] - sin) * t["scale"] * t["flip_y"]
    c = sin * t["scale"] * t["flip_x"]
    d = (sin * t["shear"] + cos) * t["scale"] * t["flip_y"]
    determinant = a * d - b * c
    # Sampling needs the inverse: where in the input does each output pixel come from?
    centre_x, centre_y = (w - 1) / 2, (h - 1) / 2
    out_x = tf.range(w)[None, None, :] - centre_x - t["shift_x"] * w
    out_y = tf.range(h)[None, :, None] - centre_y - t["shift_y"] * h
    in_x = (d * out_x - b * out_y) / determinant + centre_x
    in_y = (-c * out_x + a * out_y) / determinant + centre_y
    return _bilinear_sample(images, in_x, in_y, batch, height, width, channels)

  def get_config(self):
    return {**super().get_config(), "rotation": self.rotation, "shift": self.shift,
            "shear": self.shear, "zoom": self.zoom, "horizontal_flip": self.horizontal_flip,
            "vertical_flip": self.vertical_flip}


def _bilinear_sample(images, x, y, batch, height, width, channels) -> tf.Tensor:
  """images (B, H, W, C) float32 sampled at (x, y), each (B, H, W); zero outside the image."""
  flat = tf.reshape(images, (batch, height * width, channels))
  x0, y0 = tf.floor(x), tf.floor(y)
  result = tf.zeros((batch, height * width, channels))
  for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
    corner_x, corner_y = x0 + dx, y0 + dy
    weight = (1 - tf.abs(x - corner_x)) * (1 - tf.abs(y - corner_y))
    inside = ((corner_x >= 0) & (corner_x <= tf.cast(width - 1, tf.float32)) &
              (corner_y >= 0) & (corner_y <= tf.cast(height - 1, tf.float32)))
    weight = tf.where(inside, weight, 0.0)
    index = (tf.clip_by_value(tf.cast(corner_y, tf.int32), 0, height - 1) * width +
             tf.clip_by_value(tf.cast(corner_x, tf.int32), 0, width - 1))
    # Gather in the input's dtype (uint8 from the pipeline: a quarter of the memory traffic).
    values = tf.cast(tf.gather(flat, tf.reshape(index, (batch, -1)), batch_dims=1), tf.float32)
    result += values * tf.reshape(weight, (batch, -1, 1))
  return tf.reshape(result, (batch, height, width, channels))
