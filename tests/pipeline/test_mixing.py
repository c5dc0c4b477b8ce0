"""Mixup and cutmix (pipeline/mixing.py): the labels are the lambda- or pixel-area-weighted labels, class weights
enter exactly, alpha 0 and probability 0 are the identity, the Beta draws are Beta, and XLA draws what eager does."""

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
from hypothesis import given, settings, strategies as st

from pipeline.mixing import MixupCutmix, beta_sample

PROPERTIES = settings(max_examples=25, deadline=None)


def flat_images(batch: int, size: int = 12) -> np.ndarray:
  """Image i is the constant 10 * (i + 1): any mixed pixel says which images it came from, and how much."""
  return np.broadcast_to((10.0 * np.arange(1, batch + 1))[:, None, None, None], (batch, size, size, 3)).copy()


def mixed(layer: MixupCutmix, images, labels, weights=None) -> dict:
  return {key: value.numpy() for key, value in layer(images, np.asarray(labels), weights).items()}


def expected_target(share, labels, weights):
  labels, weights = np.asarray(labels, float), np.asarray(weights, float)
  partner_labels, partner_weights = labels[::-1], weights[::-1]
  weight = share * weights + (1 - share) * partner_weights
  return (share * weights * labels + (1 - share) * partner_weights * partner_labels) / weight, weight


@PROPERTIES
@given(st.lists(st.integers(0, 1), min_size=2, max_size=8), st.floats(0.1, 4.0), st.integers(0, 2**20),
       st.lists(st.floats(0.2, 5.0), min_size=8, max_size=8))
def test_mixup_targets_are_the_lambda_weighted_labels_with_the_class_weights(labels, alpha, seed, weights):
  batch, weights = len(labels), np.asarray(weights[:len(labels)], np.float32)
  images = flat_images(batch)
  out = mixed(MixupCutmix(mixup_alpha=alpha, seed=seed), images, labels, weights)
  own, partner = images[:, 0, 0, 0], images[::-1, 0, 0, 0]
  pixel = out["images"][:, 0, 0, 0]
  share = np.where(own == partner, 1.0, (pixel - partner) / np.where(own == partner, 1, own - partner))
  assert np.allclose(out["images"], out["images"][:, :1, :1, :1], atol=1e-4)  # a blend: still flat
  assert ((share > -1e-4) & (share < 1 + 1e-4)).all()
  target, weight = expected_target(share, labels, weights)
  middle = batch % 2 == 1 and batch // 2  # an odd batch's middle image is its own partner
  checked = [i for i in range(batch) if i != middle or batch % 2 == 0]
  np.testing.assert_allclose(out["targets"][checked], target[checked], atol=2e-4)
  np.testing.assert_allclose(out["weights"][checked], weight[checked], rtol=2e-4)
  first = share >= 0.5
  np.testing.assert_array_equal(out["labels"][checked], np.where(first, labels, np.asarray(labels)[::-1])[checked])


@PROPERTIES
@given(st.lists(st.integers(0, 1), min_size=2, max_size=8), st.floats(0.1, 4.0), st.integers(0, 2**20))
def test_cutmix_targets_are_the_pixel_area_weighted_labels(labels, alpha, seed):
  batch = len(labels)
  images = flat_images(batch, size=16)
  out = mixed(MixupCutmix(cutmix_alpha=alpha, seed=seed), images, labels)
  own = images[:, 0, 0, 0]
  share = (out["images"][..., 0] == own[:, None, None]).mean(axis=(1, 2))  # the pixels still the image's own
  assert np.isin(out["images"], images).all()  # pasted, never blended
  pasted = out["images"][..., 0] != own[:, None, None]
  assert (~pasted | (out["images"][..., 0] == own[::-1, None, None])).all()  # only from the partner
  target, _ = expected_target(share, labels, np.ones(batch))
  for i in range(batch):
    if own[i] != own[::-1][i]:  # (an odd batch's middle image is its own partner: any share fits)
      assert out["targets"][i] == pytest.approx(target[i], abs=1e-5)


def test_alpha_zero_or_probability_zero_is_the_identity():
  images, labels = flat_images(6), [1, 0, 0, 1, 1, 0]
  for layer in (MixupCutmix(0.0, 0.0, seed=1), MixupCutmix(0.4, 1.0, probability=0.0, seed=1)):
    out = mixed(layer, images, labels, np.full(6, 2.0, np.float32))
    np.testing.assert_array_equal(out["images"], images)
    np.testing.assert_array_equal(out["targets"], labels)
    np.testing.assert_array_equal(out["labels"], labels)
    np.testing.assert_array_equal(out["weights"], np.full(6, 2.0))
  assert not MixupCutmix(0.0, 0.0).active and not MixupCutmix(0.4, 0.0, probability=0.0).active


def test_the_probability_is_the_share_of_batches_mixed_and_both_kinds_come_up():
  layer, images, labels = MixupCutmix(0.4, 1.0, probability=0.5, seed=2), flat_images(4), np.array([1, 0, 1, 0])
  draw = tf.function(lambda: layer(images, labels)["images"])  # one trace, 200 draws (eagerly 20 times longer)
  kinds = []
  for _ in range(200):
    out = draw().numpy()
    if np.array_equal(out, images):
      kinds.append("none")
    else:
      kinds.append("cutmix" if np.isin(out, images).all() else "mixup")
  assert 70 <= kinds.count("none") <= 130
  assert kinds.count("cutmix") >= 30 and kinds.count("mixup") >= 30


@pytest.mark.parametrize("alpha", [0.2, 0.4, 1.0, 2.0])
def test_the_shares_follow_beta_alpha_alpha(alpha):
  draws = beta_sample((20000,), alpha, keras.random.SeedGenerator(7)).numpy().astype(np.float64)
  # The empirical CDF stays within the Dvoretzky-Kiefer-Wolfowitz band (a 1e-3 chance of leaving it for true
  # Beta draws) everywhere on a fine grid; float32 rounds shares within 6e-8 of 1 to 1, outside the grid.
  grid = np.concatenate([np.geomspace(1e-6, 0.5, 200), 1 - np.geomspace(1e-6, 0.5, 200)])
  empirical = (draws[None, :] <= grid[:, None]).mean(axis=1)
  band = np.sqrt(np.log(2 / 1e-3) / (2 * len(draws)))
  assert np.abs(empirical - scipy.stats.beta(alpha, alpha).cdf(grid)).max() < band
  assert not np.isnan(draws).any()


def test_the_mix_is_the_same_eagerly_and_under_xla_and_the_whole_layer_compiles():
  # (XLA draws its random numbers with another algorithm than the CPU kernels: the draws differ, the mix may not.)
  images = np.random.default_rng(0).uniform(0, 255, (6, 16, 16, 3)).astype(np.float32)
  labels, weights = np.array([1, 0, 0, 1, 1, 0]), np.array([1, 2, 2, 1, 1, 2], np.float32)
  layer = MixupCutmix(0.4, 1.0, probability=0.8, seed=4)
  compiled_mix = tf.function(MixupCutmix.mix, jit_compile=True)
  for _ in range(6):
    draw = layer.draw(6)
    eager, compiled = MixupCutmix.mix(images, labels, weights, draw), compiled_mix(images, labels, weights, draw)
    for key in eager:
      np.testing.assert_allclose(compiled[key].numpy(), eager[key].numpy(), rtol=1e-5, atol=1e-3, err_msg=key)
  whole = tf.function(MixupCutmix(0.0, 1.0, seed=5), jit_compile=True)(flat_images(4, 16), np.array([1, 0, 0, 0]))
  share = (whole["images"].numpy()[..., 0] == flat_images(4, 16)[:, :, :, 0]).mean(axis=(1, 2))
  np.testing.assert_allclose(whole["targets"].numpy(), [share[0], 0.0, 0.0, 1 - share[3]], atol=1e-5)  # 0 and 3 pair
