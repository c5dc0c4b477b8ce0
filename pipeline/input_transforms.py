"""What the backbone sees of a cell: its RGB values, their optical density, or its stain normalised.

A layer of the model (after the augmentation, before the backbone's own preprocessing), so it runs
on the accelerator inside the XLA-compiled step, and training, evaluation and the exported models
apply the same transform. Input and output are (B, H, W, 3) in [0, 255]; the black background
(0 in every channel) stays 0 in every transform.

- optical_density: Beer-Lambert, OD = -log((I + 1) / 256) per channel, 0 for white up to log(256)
  for black, scaled back to [0, 255]. Stain absorbance adds up in OD, so stain amounts become linear
  (the input of stain-deconvolution methods such as SDCT-AuxNet).
- stain_normalised: each image's cell pixels are standardised per channel to one mean and spread
  (Reinhard et al.'s colour transfer, here in RGB over the cell only): the subject-level stain and
  brightness shifts of a slide are removed, the structure inside the cell is kept.
"""

import math

import keras
from keras import ops

TRANSFORMS = ("rgb", "optical_density", "stain_normalised")
_MAX_DENSITY = math.log(256.0)  # the OD of a black pixel
TARGET_MEAN, TARGET_STD = 128.0, 40.0  # stain_normalised: every cell's per-channel mean and spread


@keras.saving.register_keras_serializable(package="cnmc")
class InputTransform(keras.layers.Layer):
  """(B, H, W, 3) in [0, 255] -> the same shape in [0, 255], background kept at 0.

  Loading a model saved with this layer needs `import pipeline.input_transforms` (the tools do it);
  models trained with --input_transform=rgb do not contain it.
  """

  def __init__(self, transform: str, **kwargs):
    super().__init__(**kwargs)
    if transform not in TRANSFORMS[1:]:
      raise ValueError(f"InputTransform: transform must be one of {TRANSFORMS[1:]}, got {transform!r}.")
    self.transform = transform

  def call(self, images):
    x = ops.cast(images, "float32")
    cell = ops.cast(ops.max(x, axis=-1, keepdims=True) > 0, "float32")
    if self.transform == "optical_density":
      out = -ops.log((x + 1.0) / 256.0) * (255.0 / _MAX_DENSITY)
    else:
      pixels = ops.maximum(ops.sum(cell, axis=(1, 2), keepdims=True), 1.0)
      mean = ops.sum(x * cell, axis=(1, 2), keepdims=True) / pixels
      variance = ops.sum(ops.square((x - mean) * cell), axis=(1, 2), keepdims=True) / pixels
      out = ops.clip((x - mean) / ops.sqrt(variance + 1.0) * TARGET_STD + TARGET_MEAN, 0.0, 255.0)
    return ops.cast(out * cell, self.compute_dtype)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), "transform": self.transform}


def input_transform_layer(transform: str) -> keras.layers.Layer | None:
  """The layer for --input_transform (None for rgb: nothing to do, and the model stays Keras-only)."""
  if transform not in TRANSFORMS:
    raise ValueError(f"input transform must be one of {TRANSFORMS}, got {transform!r}.")
  return None if transform == "rgb" else InputTransform(transform, name="input_transform")
