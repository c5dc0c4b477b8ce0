"""FusedColourJitter: each component checked against its definition, and keras-cv's conventions."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st

from pipeline.fused_colour import RGB_TO_YIQ, FusedColourJitter

LUMA = RGB_TO_YIQ[0]


def cells(batch=4, size=32, seed=0) -> np.ndarray:
  """Noisy coloured discs on black, float32 in [0, 255]."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:size, 0:size] - size / 2
  disc = (np.hypot(yy, xx) < size / 3)[None, ..., None]
  colour = rng.uniform(80, 180, (batch, 1, 1, 3)) + rng.normal(0, 10, (batch, size, size, 3))
  return (disc * colour).astype(np.float32)


def params(batch=4, brightness=0.0, contrast=1.0, saturation=1.0, hue=0.0) -> dict:
  return {k: tf.fill((batch,), float(v)) for k, v in
          dict(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue).items()}


def apply(images, **kwargs):
  return FusedColourJitter().transform_images(images, params(len(images), **kwargs)).numpy()


def cell_mask(images):
  return images.max(-1) > 0


def test_all_factors_zero_is_the_identity():
  images = cells()
  out = FusedColourJitter(0, 0, 0, 0)(images, training=True).numpy()
  np.testing.assert_allclose(out, images, atol=1e-3)


def test_brightness_adds_to_cell_pixels_only():
  images = cells()
  out = apply(images, brightness=20.0)
  mask = cell_mask(images)
  np.testing.assert_allclose(out[mask], np.clip(images[mask] + 20, 0, 255), atol=1e-3)
  assert not out[~mask].any()


def test_contrast_scales_deviations_from_the_cell_mean():
  images = cells(batch=1)
  mask = cell_mask(images)
  out = apply(images, contrast=1.5)
  mean = images[mask].mean(0)
  np.testing.assert_allclose(out[mask], np.clip(mean + 1.5 * (images[mask] - mean), 0, 255), atol=1e-2)


def test_zero_saturation_gives_grey_with_the_same_luma():
  images = cells()
  out = apply(images, saturation=0.0)
  mask = cell_mask(images)
  np.testing.assert_allclose(out[mask], np.repeat((images[mask] @ LUMA)[:, None], 3, 1), atol=1e-2)


def test_hue_rotation_keeps_luma_and_undoes_itself():
  images = cells() * 0.6 + 40 * (cells() > 0)  # mid-range values: no clipping
  turned = apply(images, hue=0.7)
  mask = cell_mask(images)
  np.testing.assert_allclose(turned[mask] @ LUMA, images[mask] @ LUMA, atol=1e-2)
  assert np.abs(turned - images).max() > 5
  np.testing.assert_allclose(apply(turned, hue=-0.7), images, atol=1e-2)


def test_output_range_and_black_background_for_strong_jitter():
  images = cells(batch=8)
  out = FusedColourJitter(brightness=0.5, contrast=0.9, saturation=1.0, hue=0.5, seed=0)(images, training=True)
  out = out.numpy()
  assert out.min() >= 0 and out.max() <= 255
  assert not out[~cell_mask(images)].any()


def test_each_image_gets_its_own_draw_and_the_seed_repeats_it():
  images = np.repeat(cells(batch=1), 6, axis=0)
  first = FusedColourJitter(hue=0.2, seed=4)(images, training=True).numpy()
  again = FusedColourJitter(hue=0.2, seed=4)(images, training=True).numpy()
  np.testing.assert_array_equal(first, again)
  assert all(np.abs(first[0] - first[i]).max() > 1 for i in range(1, 6))


def test_get_config_round_trips():
  layer = FusedColourJitter(0.2, 0.3, 0.4, 0.05, seed=3)
  assert FusedColourJitter.from_config(layer.get_config()).get_config() == layer.get_config()


def test_compiles_with_xla_and_agrees_with_eager_and_tf_data():
  images = tf.constant(cells())
  layer = FusedColourJitter()
  p = FusedColourJitter(0.2, 0.2, 0.2, 0.1, seed=1).get_random_transformation_batch(4)
  eager = layer.transform_images(images, p).numpy()
  compiled = tf.function(layer.transform_images, jit_compile=True)(images, p).numpy()
  in_data = next(iter(tf.data.Dataset.from_tensors((images, p)).map(layer.transform_images))).numpy()
  np.testing.assert_allclose(compiled, eager, atol=1e-3)
  np.testing.assert_allclose(in_data, eager, atol=1e-3)


@pytest.mark.parametrize("bad", [dict(brightness=-0.1), dict(contrast=1.0), dict(saturation=1.5)])
def test_bad_ranges_are_rejected(bad):
  with pytest.raises(ValueError):
    FusedColourJitter(**bad)


@settings(max_examples=25, deadline=None)
@given(brightness=st.floats(0, 0.5), contrast=st.floats(0, 0.95), saturation=st.floats(0, 1),
       hue=st.floats(0, 0.5), seed=st.integers(0, 2**16))
def test_any_jitter_stays_in_range_and_keeps_the_background(brightness, contrast, saturation, hue, seed):
  images = cells(batch=3, size=16)
  out = FusedColourJitter(brightness, contrast, saturation, hue, seed=seed)(images, training=True).numpy()
  assert out.shape == images.shape and out.min() >= 0 and out.max() <= 255
  assert not out[~cell_mask(images)].any()
