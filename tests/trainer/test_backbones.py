"""Each backbone builds into the classifier and takes one training step at a small size."""

import dataclasses

import keras
import numpy as np
import pytest

from tests.support import in_process
from trainer import backbones
from trainer.config import TrainConfig
from trainer.errors import TrainerError
from trainer.train import run
from trainer.metrics import training_metrics
from trainer.model import build_classifier, train_step_for


@pytest.mark.parametrize("name,size", [("effnetb3", 32), ("small_cnn", 32),
                                       pytest.param("inception_resnet_v2", 75, marks=pytest.mark.slow)])
def test_backbone_trains_one_step(name, size):
  keras.utils.set_random_seed(0)
  classifier, _ = build_classifier(backbones.get_backbone(name), size, None, 0.3, seed=0)
  model = train_step_for(classifier, TrainConfig(augmentation="cells"))
  # Eagerly: one step does not repay tracing and optimising the whole graph (a minute for IRV2).
  model.compile(optimizer="adam", loss="binary_crossentropy", metrics=training_metrics(), run_eagerly=True)
  images = np.random.default_rng(0).integers(0, 255, (4, size, size, 3), dtype=np.uint8)
  before = [w.copy() for w in model.get_layer("probability").get_weights()]
  logs = model.train_on_batch(images, np.array([0, 1, 0, 1]), return_dict=True)
  assert np.isfinite(logs["loss"])
  after = model.get_layer("probability").get_weights()
  assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))  # the step updated the head
  assert classifier.output.shape == (None, 1) and classifier.get_config()  # a plain functional model: it trained
  np.testing.assert_array_equal(classifier.get_layer("probability").get_weights()[0], after[0])


def test_inception_resnet_v2_sees_minus_one_to_one_and_efficientnet_raw_pixels():
  layer = backbones.get_backbone("inception_resnet_v2").preprocessing()
  np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(np.array([0.0, 127.5, 255.0]))), [-1, 0, 1])
  assert backbones.get_backbone("effnetb3").preprocessing() is None  # it rescales inside


def test_registering_a_backbone_is_one_decorated_function():
  @backbones.register_backbone("tiny_test_net", default_size=32, min_size=8, weights_file="none.h5",
                               preprocessing=lambda: None)
  def tiny(input_shape, weights):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs))
  try:
    assert "tiny_test_net" in backbones.names()
    model, _ = build_classifier(backbones.get_backbone("tiny_test_net"), 16, None, 0.0, seed=0)
    assert model.predict(np.zeros((2, 16, 16, 3), np.uint8), verbose=0).shape == (2, 1)
  finally:
    backbones._REGISTRY.pop("tiny_test_net")


def test_frozen_backbone_keeps_batchnorm_in_inference_mode_when_fine_tuned():
  from trainer.model import freeze_backbone, unfreeze_backbone
  _, base = build_classifier(backbones.get_backbone("effnetb3"), 32, None, 0.0, seed=0)
  freeze_backbone(base)
  assert not base.trainable_weights
  unfreeze_backbone(base, keep_batchnorm_frozen=True)
  norms = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
  assert norms and not any(layer.trainable for layer in norms)
  assert base.trainable_weights  # the convolutions train


def test_small_cnn_has_no_imagenet_weights():
  from trainer.errors import TrainerError
  from trainer.weights import build_with_weights
  with pytest.raises(TrainerError, match="small_cnn has no ImageNet weights: pass --weights=none"):
    build_with_weights(backbones.get_backbone("small_cnn"), (32, 32, 3), "imagenet")


def test_an_unknown_backbone_is_refused_with_the_choices():
  with pytest.raises(TrainerError, match="effnetb3, inception_resnet_v2"):
    backbones.get_backbone("resnet50")
  result = in_process.module("trainer", "--backbone=resnet50")
  assert result.returncode == 1 and "Traceback" not in result.stderr and "effnetb3" in result.stderr


def test_an_image_size_below_the_backbone_minimum_is_refused(tmp_path):
  with pytest.raises(TrainerError, match="at least 75 px"):
    run(dataclasses.replace(TrainConfig(), backbone="inception_resnet_v2", image_size=64, weights="none",
                            model_dir=str(tmp_path)))
