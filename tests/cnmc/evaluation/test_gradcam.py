"""Grad-CAM on both backbones, from the saved model: heatmaps of the image's size, in [0, 1], not constant."""

import numpy as np
import tensorflow as tf
import pytest

from cnmc.evaluation.errors import EvaluationError
from cnmc.evaluation.gradcam import make_gradcam_fn, overlay
from trainer import backbones
from trainer.model import build_classifier


@pytest.mark.parametrize("backbone, size", [  # the real backbones cost 15-25 s each: the fast loop has small_cnn
    ("small_cnn", 32), pytest.param("effnetb3", 96, marks=pytest.mark.slow),
    pytest.param("inception_resnet_v2", 160, marks=pytest.mark.slow)])
def test_heatmaps_have_the_image_shape_vary_and_come_with_the_models_probability(backbone, size, tmp_path):
  import keras
  built, _ = build_classifier(backbones.get_backbone(backbone), size, None, dropout=0.3, seed=3)
  built.save(tmp_path / "model.keras")
  model = keras.saving.load_model(tmp_path / "model.keras")  # as tools.gradcam reads it
  images = np.random.default_rng(0).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
  heatmaps, probabilities = (t.numpy() for t in make_gradcam_fn(model)(images))
  assert heatmaps.shape == (2, size, size) and heatmaps.dtype == np.float32
  assert heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0 + 1e-6
  for heatmap in heatmaps:
    assert heatmap.std() > 1e-3 and heatmap.max() == pytest.approx(1.0, abs=1e-5)  # not constant, scaled
  np.testing.assert_allclose(probabilities, model.predict(images, verbose=0)[:, 0], atol=1e-4)


def test_overlay_keeps_shape_and_type():
  images = np.zeros((2, 8, 8, 3), np.uint8)
  heat = np.linspace(0, 1, 128, dtype=np.float32).reshape(2, 8, 8)
  out = overlay(images, heat)
  assert out.shape == (2, 8, 8, 3) and out.dtype == np.uint8 and out.max() > 0


def test_a_model_without_a_backbone_is_refused():
  import keras
  inputs = keras.Input((8, 8, 3))
  model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
  with pytest.raises(EvaluationError, match="Grad-CAM needs a model built by the trainer"):
    make_gradcam_fn(model)


def test_the_sample_draws_correct_and_wrong_calls_and_the_images_are_found_again():
  from cnmc.evaluation.gradcam import images_at, sample_calls
  labels = np.array([1, 1, 0, 0, 1, 0])
  probabilities = np.array([0.9, 0.2, 0.1, 0.7, 0.6, 0.4])  # wrong: cells 1 and 3
  chosen = sample_calls(labels, probabilities, 0.5, count=3, seed=0)
  assert chosen["wrong"] == [1, 3] and len(chosen["correct"]) == 3 and set(chosen["correct"]) <= {0, 2, 4, 5}
  assert sample_calls(labels, probabilities, 0.5, count=3, seed=0) == chosen  # seeded
  images = np.arange(6 * 2 * 2 * 3, dtype=np.uint8).reshape(6, 2, 2, 3)
  batches = [{"image": tf.constant(images[i:i + 4])} for i in (0, 4)]
  found = images_at(batches, [5, 1, 3])
  assert sorted(found) == [1, 3, 5] and all(np.array_equal(found[i], images[i]) for i in found)
