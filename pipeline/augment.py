"""The training-time augmentation of cell images, run on the accelerator inside the train step.

Geometry: FusedRandomAffine (one resample). Colour and stain: FusedColourJitter (one colour map).
Both are plain TF ops that XLA compiles, so the whole augmentation fuses into the compiled step.
"""

import keras
import tensorflow as tf

from pipeline.augmentation_presets import CELLS, NOTEBOOK
from pipeline.fused_affine import FusedRandomAffine
from pipeline.fused_colour import FusedColourJitter


@keras.saving.register_keras_serializable(package="cnmc")
class CellAugmentation(keras.layers.Layer):
  """Affine + colour augmentation of cells on black: (B, H, W, 3) in [0, 255] -> float in [0, 255].

  Args: rotation, shift, shear, zoom, horizontal_flip, vertical_flip (see FusedRandomAffine);
  brightness, contrast, saturation, hue (see FusedColourJitter); seed for both.
  Every factor 0 and no flips: the identity. At inference the images pass through (cast).
  """

  def __init__(self, rotation: float = NOTEBOOK["rotation"], shift: float = NOTEBOOK["shift"],
               shear: float = NOTEBOOK["shear"], zoom: float = NOTEBOOK["zoom"],
               horizontal_flip: bool = NOTEBOOK["horizontal_flip"], vertical_flip: bool = NOTEBOOK["vertical_flip"],
               brightness: float = CELLS["brightness"], contrast: float = CELLS["contrast"],
               saturation: float = CELLS["saturation"], hue: float = CELLS["hue"],
               seed: int | None = None, **kwargs):
    super().__init__(**kwargs)
    self.settings = dict(rotation=rotation, shift=shift, shear=shear, zoom=zoom,
                         horizontal_flip=horizontal_flip, vertical_flip=vertical_flip,
                         brightness=brightness, contrast=contrast, saturation=saturation, hue=hue, seed=seed)
    # Resampling and colour maths stay in float32 under mixed precision; the output is cast at the end.
    self.affine = FusedRandomAffine(rotation, shift, shear, zoom, horizontal_flip, vertical_flip,
                                    seed=seed, dtype="float32")
    self.colour = FusedColourJitter(brightness, contrast, saturation, hue,
                                    seed=None if seed is None else seed + 1, dtype="float32")

  def build(self, input_shape):
    self.affine.build(input_shape)
    self.colour.build(input_shape)

  def call(self, images, training=None):
    if not training:
      return tf.cast(images, self.compute_dtype)
    images = self.colour(self.affine(images, training=True), training=True)
    return tf.cast(images, self.compute_dtype)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), **self.settings}
