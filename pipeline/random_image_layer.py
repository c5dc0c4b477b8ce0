"""The shape every augmentation layer here shares, after keras-cv's: draw, then transform."""

import keras
import tensorflow as tf


class RandomImageLayer(keras.layers.Layer):
  """Base of a random per-image augmentation: subclasses define the draw and the transform.

  get_random_transformation_batch(batch_size) -> dict of (B,) tensors, drawn from
  self.seed_generator; transform_images(images, transformation) -> float32 images, deterministic.
  When not training the input passes through, cast to the layer's compute dtype.
  """

  def __init__(self, seed: int | None = None, **kwargs):
    super().__init__(**kwargs)
    self.seed = seed
    self.seed_generator = keras.random.SeedGenerator(seed)

  def uniform(self, batch_size, low, high) -> tf.Tensor:
    """(batch_size,) float32 draws in [low, high) from this layer's seed."""
    return keras.random.uniform((batch_size,), low, high, seed=self.seed_generator)

  def get_random_transformation_batch(self, batch_size) -> dict[str, tf.Tensor]:
    raise NotImplementedError

  def transform_images(self, images: tf.Tensor, transformation: dict[str, tf.Tensor]) -> tf.Tensor:
    raise NotImplementedError

  def call(self, images, training=None):
    if not training:
      return tf.cast(images, self.compute_dtype)
    transformation = self.get_random_transformation_batch(tf.shape(images)[0])
    return tf.cast(self.transform_images(images, transformation), self.compute_dtype)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), "seed": self.seed}
