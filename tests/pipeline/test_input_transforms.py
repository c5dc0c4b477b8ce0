"""Input transforms: background stays black, the formulas hold, XLA compiles them, saved models keep them."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st

from cnmc.run_folder import layout
from pipeline.input_transforms import TARGET_MEAN, TARGET_STD, InputTransform, input_transform_layer
from trainer import backbones
from trainer.model import build_classifier

TRANSFORMS = ["optical_density", "stain_normalised"]


def cells(seed: int, batch=3, size=24) -> np.ndarray:
  """Ellipses of random, textured colour on black."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:size, 0:size] - size / 2
  images = np.zeros((batch, size, size, 3), np.uint8)
  for i in range(batch):
    inside = (yy / rng.uniform(3, size / 2)) ** 2 + (xx / rng.uniform(3, size / 2)) ** 2 < 1
    images[i][inside] = rng.integers(1, 256, (int(inside.sum()), 3))
  return images


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), transform=st.sampled_from(TRANSFORMS))
def test_background_stays_black_and_values_stay_in_range(seed, transform):
  images = cells(seed)
  out = InputTransform(transform)(images).numpy()
  background = images.max(axis=-1) == 0
  assert not out[background].any()
  assert out.min() >= 0 and out.max() <= 255 + 1e-3


def test_optical_density_is_minus_log_of_the_transmitted_light():
  pixels = np.array([[[[255, 127, 1]]]], np.uint8)
  out = InputTransform("optical_density")(pixels).numpy()[0, 0, 0]
  expected = [-math.log((v + 1) / 256) * 255 / math.log(256) for v in (255, 127, 1)]
  np.testing.assert_allclose(out, expected, rtol=1e-5)
  assert out[0] == pytest.approx(0.0, abs=1e-4)  # white transmits everything: no stain


def test_stain_normalisation_gives_every_cell_the_same_colour_statistics():
  images = cells(4, batch=4, size=40)
  images = (images * np.array([0.4, 0.7, 1.0, 0.9])[:, None, None, None]).astype(np.uint8)  # slides differ
  out = InputTransform("stain_normalised")(images).numpy()
  for image, normalised in zip(images, out, strict=True):
    cell = (image.max(axis=-1) > 0) & (normalised.max(axis=-1) > 0)
    np.testing.assert_allclose(normalised[cell].mean(axis=0), TARGET_MEAN, atol=6)
    np.testing.assert_allclose(normalised[cell].std(axis=0), TARGET_STD, atol=6)
  # A brighter copy of a slide normalises to (nearly) the same image.
  brighter = np.clip(images[:1].astype(int) * 1.2, 0, 255).astype(np.uint8)
  np.testing.assert_allclose(InputTransform("stain_normalised")(brighter).numpy(), out[:1], atol=8)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_the_transform_compiles_with_xla_and_matches_eager(transform):
  layer = InputTransform(transform)
  images = tf.constant(cells(1))
  compiled = tf.function(lambda x: layer(x), jit_compile=True)
  np.testing.assert_allclose(compiled(images).numpy(), layer(images).numpy(), rtol=1e-5, atol=1e-3)


def test_rgb_adds_no_layer_and_unknown_names_are_refused():
  assert input_transform_layer("rgb") is None
  with pytest.raises(ValueError, match="optical_density"):
    input_transform_layer("lab")


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_the_exported_model_applies_the_same_transform_after_saving_and_loading(tmp_path, transform):
  model, _ = build_classifier(backbones.get_backbone("small_cnn"), 32, None, 0.0, seed=0, input_transform=transform)
  assert any(isinstance(layer, InputTransform) for layer in model.layers)
  images = cells(2, batch=4, size=32)
  path = tmp_path / layout.FINAL_MODEL
  model.save(path)
  reloaded = keras.saving.load_model(path)
  expected = model.predict(images, verbose=0)
  np.testing.assert_allclose(reloaded.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
  # The transform changes what the model computes (it is not silently skipped).
  plain, _ = build_classifier(backbones.get_backbone("small_cnn"), 32, None, 0.0, seed=0)
  plain.set_weights(model.get_weights())
  assert np.abs(plain.predict(images, verbose=0) - expected).max() > 1e-4
