"""FusedRandomAffine against scipy, and keras-cv's layer conventions."""

import keras
import numpy as np
import pytest
import scipy.ndimage as ndi
import tensorflow as tf
from hypothesis import given, settings, strategies as st

from pipeline.fused_affine import FusedRandomAffine

TOLERANCE = 1e-2  # on a 0-255 scale; float32 coordinate round-off, measured ~1e-3


def smooth_images(batch=2, height=40, width=50, seed=0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  return ndi.gaussian_filter(rng.uniform(0, 255, (batch, height, width, 3)), (0, 2, 2, 0)).astype(np.float32)


def scipy_reference(image: np.ndarray, p: dict) -> np.ndarray:
  """The same forward map, resampled by scipy (independent code) in (row, col) order."""
  cos, sin, s = np.cos(p["angle"]), np.sin(p["angle"]), p["scale"]
  a, c = cos * s * p["flip_x"], sin * s * p["flip_x"]
  b, d = (cos * p["shear"] - sin) * s * p["flip_y"], (sin * p["shear"] + cos) * s * p["flip_y"]
  forward_rc = np.array([[d, c], [b, a]])  # (row, col) <- (row, col)
  inverse = np.linalg.inv(forward_rc)
  height, width = image.shape[:2]
  centre = np.array([(height - 1) / 2, (width - 1) / 2])
  shift = np.array([p["shift_y"] * height, p["shift_x"] * width])
  offset = centre - inverse @ (centre + shift)
  return np.stack([ndi.affine_transform(image[..., ch], inverse, offset=offset, order=1,
                                        mode="grid-constant", cval=0) for ch in range(image.shape[-1])], -1)


def test_matches_scipy_for_random_transforms():
  images = smooth_images()
  layer = FusedRandomAffine(rotation=30, shift=0.1, shear=0.2, zoom=0.3, vertical_flip=True, seed=3)
  params = layer.get_random_transformation_batch(2)
  out = layer.transform_images(images, params).numpy()
  for i in range(2):
    p = {k: float(v[i]) for k, v in params.items()}
    np.testing.assert_allclose(out[i], scipy_reference(images[i], p), atol=TOLERANCE)


def test_rotation_by_90_degrees_is_rot90():
  image = smooth_images(batch=1, height=33, width=33)
  params = {"angle": [np.pi / 2], "shift_x": [0.0], "shift_y": [0.0], "shear": [0.0], "scale": [1.0],
            "flip_x": [1.0], "flip_y": [1.0]}
  params = {k: tf.constant(v, tf.float32) for k, v in params.items()}
  out = FusedRandomAffine().transform_images(image, params).numpy()[0]
  # In image coordinates (y down) a positive angle turns the picture clockwise.
  np.testing.assert_allclose(out, np.rot90(image[0], k=-1), atol=TOLERANCE)


def test_all_factors_zero_is_the_identity():
  images = smooth_images()
  layer = FusedRandomAffine(rotation=0, shift=0, shear=0, zoom=0, horizontal_flip=False)
  np.testing.assert_array_equal(layer(images, training=True).numpy(), images)


def test_inference_passes_images_through():
  images = smooth_images()
  np.testing.assert_array_equal(FusedRandomAffine(seed=1)(images, training=False).numpy(), images)


def test_uint8_in_float32_out_within_range_and_black_fill():
  images = np.full((4, 32, 32, 3), 255, np.uint8)
  out = FusedRandomAffine(rotation=45, zoom=0.5, seed=0)(images, training=True)
  assert out.shape == images.shape and out.dtype == tf.float32
  assert float(tf.reduce_min(out)) >= 0 and float(tf.reduce_max(out)) <= 255 + 1e-3
  assert float(tf.reduce_min(out)) == 0  # some corner left the frame and was filled with black


def test_each_image_gets_its_own_transform():
  images = np.repeat(smooth_images(batch=1), 8, axis=0)
  out = FusedRandomAffine(rotation=180, seed=0)(images, training=True).numpy()
  assert all(np.abs(out[0] - out[i]).max() > 1 for i in range(1, 8))


def test_same_seed_same_output_and_other_seed_differs():
  images = smooth_images()
  first = FusedRandomAffine(rotation=90, seed=5)(images, training=True).numpy()
  again = FusedRandomAffine(rotation=90, seed=5)(images, training=True).numpy()
  other = FusedRandomAffine(rotation=90, seed=6)(images, training=True).numpy()
  np.testing.assert_array_equal(first, again)
  assert np.abs(first - other).max() > 1


def test_get_config_round_trips():
  layer = FusedRandomAffine(rotation=180, shift=0.1, shear=0.05, zoom=0.1, vertical_flip=True, seed=9)
  clone = FusedRandomAffine.from_config(layer.get_config())
  assert clone.get_config() == layer.get_config()
  images = smooth_images()
  np.testing.assert_array_equal(clone(images, training=True).numpy(), layer(images, training=True).numpy())


def test_serialises_inside_a_keras_model(tmp_path):
  inputs = keras.Input((16, 16, 3))
  model = keras.Model(inputs, FusedRandomAffine(rotation=10, seed=1)(inputs))
  model.save(tmp_path / "m.keras")
  restored = keras.models.load_model(tmp_path / "m.keras")
  assert restored.layers[-1].get_config()["rotation"] == 10


def test_compiles_with_xla_and_agrees_with_eager():
  images = tf.constant(smooth_images())
  layer = FusedRandomAffine(rotation=30, shift=0.1, shear=0.1, zoom=0.2, seed=2)
  params = layer.get_random_transformation_batch(2)
  compiled = tf.function(layer.transform_images, jit_compile=True)
  np.testing.assert_allclose(compiled(images, params).numpy(), layer.transform_images(images, params).numpy(),
                             atol=TOLERANCE)
  random_call = tf.function(lambda x: layer(x, training=True), jit_compile=True)
  assert random_call(images).shape == images.shape  # the random draw compiles too


def test_same_result_eagerly_and_inside_tf_data():
  images = smooth_images(batch=4)
  params = FusedRandomAffine(rotation=40, seed=4).get_random_transformation_batch(4)
  layer = FusedRandomAffine()
  eager = layer.transform_images(images, params).numpy()
  dataset = tf.data.Dataset.from_tensors((images, params)).map(layer.transform_images)
  np.testing.assert_allclose(next(iter(dataset)).numpy(), eager, atol=1e-4)


@pytest.mark.parametrize("bad", [dict(rotation=-1), dict(zoom=1.0), dict(shift=-0.1)])
def test_bad_ranges_are_rejected(bad):
  with pytest.raises(ValueError, match=next(iter(bad))):
    FusedRandomAffine(**bad)


@settings(max_examples=25, deadline=None)
@given(rotation=st.floats(0, 180), shift=st.floats(0, 0.5), shear=st.floats(0, 0.5),
       zoom=st.floats(0, 0.9), flips=st.booleans(), seed=st.integers(0, 2**16), value=st.integers(1, 255))
def test_a_constant_image_stays_within_its_value_and_black(rotation, shift, shear, zoom, flips, seed, value):
  # Bilinear weights sum to at most 1 and are never negative, so no new extremes can appear.
  images = np.full((2, 24, 24, 3), value, np.uint8)
  layer = FusedRandomAffine(rotation, shift, shear, zoom, flips, flips, seed=seed)
  out = layer(images, training=True).numpy()
  assert out.shape == images.shape
  assert out.min() >= 0 and out.max() <= value + 1e-3
