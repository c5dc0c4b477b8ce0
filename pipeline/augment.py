"""The training-time augmentation of cell images, run on the accelerator inside the train step.

Geometry comes from FusedRandomAffine (one resample, XLA-compilable); colour and stain jitter
from keras-cv's brightness, contrast, saturation and hue layers, which XLA compiles too. The cells
are segmented on black, so the background is put back to black after the colour changes.
"""

import keras
import keras_cv
import tensorflow as tf

from pipeline.fused_affine import FusedRandomAffine

_VALUE_RANGE = (0, 255)


@keras.saving.register_keras_serializable(package="cnmc")
class CellAugmentation(keras.layers.Layer):
  """Affine + colour augmentation of uint8-valued cell images, (B, H, W, 3) -> float in [0, 255].

  Args:
    rotation, shift, shear, zoom, horizontal_flip, vertical_flip: see FusedRandomAffine.
    brightness: largest brightness shift as a fraction of 255.
    contrast: contrast factor drawn in [1 - contrast, 1 + contrast].
    saturation: width of keras-cv's saturation factor range about 0.5 (its no-op); 0.1 scales
      saturation by about 0.8 to 1.2.
    hue: largest hue rotation as a fraction of the colour wheel.
    seed: seeds the affine draw. keras-cv's colour layers draw with stateful tf.random ops, which
      repeat only under a fixed global seed (keras.utils.set_random_seed), as the trainer sets.
  Every factor 0 and no flips: the identity. At inference the images pass through (cast).
  """

  def __init__(self, rotation: float = 20.0, shift: float = 0.2, shear: float = 0.2, zoom: float = 0.2,
               horizontal_flip: bool = True, vertical_flip: bool = False, brightness: float = 0.1,
               contrast: float = 0.1, saturation: float = 0.1, hue: float = 0.03,
               seed: int | None = None, **kwargs):
    super().__init__(**kwargs)
    self.settings = dict(rotation=rotation, shift=shift, shear=shear, zoom=zoom,
                         horizontal_flip=horizontal_flip, vertical_flip=vertical_flip,
                         brightness=brightness, contrast=contrast, saturation=saturation, hue=hue, seed=seed)
    self.affine = FusedRandomAffine(rotation, shift, shear, zoom, horizontal_flip, vertical_flip, seed=seed,
                                    dtype="float32")
    # Each colour layer gets its own op seed so that their draws are independent.
    def seeded(offset):
      return None if seed is None else seed + offset
    self.colour = []  # only the enabled ones, so that all-zero factors are exactly the identity
    if brightness:
      self.colour.append(keras_cv.layers.RandomBrightness(brightness, value_range=_VALUE_RANGE, seed=seeded(1)))
    if contrast:
      self.colour.append(keras_cv.layers.RandomContrast(_VALUE_RANGE, contrast, seed=seeded(2)))
    if saturation:
      self.colour.append(keras_cv.layers.RandomSaturation((0.5 - saturation / 2, 0.5 + saturation / 2),
                                                          seed=seeded(3)))
    if hue:
      self.colour.append(keras_cv.layers.RandomHue(hue, _VALUE_RANGE, seed=seeded(4)))

  def build(self, input_shape):
    for layer in [self.affine, *self.colour]:
      layer.build(input_shape)

  def call(self, images, training=None):
    if not training:
      return tf.cast(images, self.compute_dtype)
    images = self.affine(images, training=True)
    background = tf.reduce_max(images, axis=-1, keepdims=True) <= 0
    for layer in self.colour:
      images = layer(images, training=True)
    images = tf.where(background, 0.0, tf.clip_by_value(images, *_VALUE_RANGE))
    return tf.cast(images, self.compute_dtype)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), **self.settings}
