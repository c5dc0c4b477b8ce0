"""CellAugmentation: identity at zero, black background kept, and it compiles inside a train step."""

import keras
import numpy as np
import tensorflow as tf

from pipeline.augment import CellAugmentation

NO_AUGMENTATION = dict(rotation=0, shift=0, shear=0, zoom=0, horizontal_flip=False, vertical_flip=False,
                       brightness=0, contrast=0, saturation=0, hue=0)


def cells(batch=4, size=48, seed=0) -> np.ndarray:
  """Discs of random colour on black."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:size, 0:size] - size / 2
  disc = (np.hypot(yy, xx) < size / 4)[None, ..., None]
  return (disc * rng.uniform(60, 230, (batch, 1, 1, 3))).astype(np.uint8)


def test_all_factors_zero_is_the_identity():
  images = cells()
  out = CellAugmentation(**NO_AUGMENTATION)(images, training=True)
  np.testing.assert_allclose(out.numpy(), images.astype(np.float32), atol=1e-3)


def test_background_stays_black_and_values_stay_in_range():
  images = cells(batch=8)
  out = CellAugmentation(rotation=180, brightness=0.3, contrast=0.3, saturation=0.2, hue=0.1, seed=1)(
      images, training=True).numpy()
  assert out.min() >= 0 and out.max() <= 255
  corners = out[:, :4, :4]  # far outside the disc whatever the rotation, zoom or shift
  assert not corners.any()


def test_colour_jitter_changes_the_cell():
  images = cells(batch=8)
  colour_only = {**NO_AUGMENTATION, "brightness": 0.2, "hue": 0.05}
  out = CellAugmentation(**colour_only, seed=3)(images, training=True).numpy()
  assert np.abs(out - images).max() > 5


def test_get_config_round_trips_and_the_seed_repeats_the_draws():
  images = cells()
  layer = CellAugmentation(rotation=90, vertical_flip=True, brightness=0.2, hue=0.1, seed=11)
  clone = CellAugmentation.from_config(layer.get_config())
  assert clone.get_config() == layer.get_config()
  np.testing.assert_array_equal(clone(images, training=True).numpy(), layer(images, training=True).numpy())


def test_the_whole_augmentation_compiles_with_xla():
  augmentation = CellAugmentation(rotation=180, vertical_flip=True, seed=0)
  step = tf.function(lambda x: augmentation(x, training=True), jit_compile=True)
  assert step(tf.constant(cells())).shape == (4, 48, 48, 3)


def test_keras_keeps_xla_on_for_a_model_that_augments_in_its_train_step():
  inputs = keras.Input((48, 48, 3), dtype="uint8")
  features = keras.layers.GlobalAveragePooling2D()(CellAugmentation(rotation=180, seed=0)(inputs))
  model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(features))
  model.compile(optimizer="sgd", loss="binary_crossentropy", jit_compile=True)
  # Keras quietly turns XLA off when any layer has supports_jit = False (its own geometric layers do).
  assert model.jit_compile is True
  history = model.fit(cells(batch=8), np.ones((8, 1)), batch_size=4, epochs=1, verbose=0)
  assert np.isfinite(history.history["loss"][0])
