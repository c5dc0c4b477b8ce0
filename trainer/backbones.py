"""Backbones by name. Adding one is one decorated function.

Each entry knows its default input size, the smallest it can take, its ImageNet weights file (as
keras.applications names it in the Keras cache) and how it wants its pixels: EfficientNet takes
0-255 and rescales inside; InceptionResNetV2 expects [-1, 1].
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from collections.abc import Callable

from trainer.errors import TrainerError

if TYPE_CHECKING:
  import keras
# Each builder imports keras itself: the names are needed to parse flags, which must not start TensorFlow
# (--help stays fast, and --deterministic can configure TensorFlow before it loads).


@dataclasses.dataclass(frozen=True)
class Backbone:
  name: str
  build: Callable[..., keras.Model]  # (input_shape, weights) -> model without its top
  default_size: int
  min_size: int
  weights_file: str  # in ~/.keras/models/, where keras.applications caches it
  preprocessing: Callable[[], keras.layers.Layer | None]  # makes the layer: [0, 255] -> what it expects


_REGISTRY: dict[str, Backbone] = {}


def register_backbone(name: str, *, default_size: int, min_size: int, weights_file: str,
                      preprocessing: Callable[[], keras.layers.Layer | None]):
  """Decorator: registers `build(input_shape, weights) -> keras.Model` under `name`."""
  def decorate(build):
    _REGISTRY[name] = Backbone(name, build, default_size, min_size, weights_file, preprocessing)
    return build
  return decorate


def names() -> list[str]:
  return sorted(_REGISTRY)


def get_backbone(name: str) -> Backbone:
  if name not in _REGISTRY:
    raise TrainerError(f"--backbone={name!r} is not known; choose one of: {', '.join(names())}.")
  return _REGISTRY[name]


def check_image_size(backbone: Backbone, size: int) -> None:
  if size < backbone.min_size:
    raise TrainerError(f"--image_size={size} is too small for {backbone.name}: it takes at least "
                       f"{backbone.min_size} px (default {backbone.default_size}).")


def _nothing():
  return None  # EfficientNet rescales and normalises inside the model


def _to_zero_one():
  import keras
  return keras.layers.Rescaling(1 / 255, name="to_zero_one")


def _to_minus_one_one():
  import keras
  return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="to_minus_one_one")


@register_backbone("effnetb3", default_size=300, min_size=32, weights_file="efficientnetb3_notop.h5",
                   preprocessing=_nothing)
def efficientnet_b3(input_shape, weights):
  import keras
  return keras.applications.EfficientNetB3(include_top=False, weights=weights, input_shape=input_shape)


@register_backbone("inception_resnet_v2", default_size=299, min_size=75,
                   weights_file="inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
                   preprocessing=_to_minus_one_one)
def inception_resnet_v2(input_shape, weights):
  import keras
  return keras.applications.InceptionResNetV2(include_top=False, weights=weights, input_shape=input_shape)


@register_backbone("small_cnn", default_size=128, min_size=32, weights_file="",
                   preprocessing=_to_zero_one)
def small_cnn(input_shape, weights):
  """Four conv blocks (32-256 channels), no pretrained weights: it trains from scratch in minutes on a
  CPU, for smoke runs and the leakage demonstration, where an EfficientNet from scratch learns nothing
  in the same budget. Not a model for results."""
  if weights == "imagenet":
    raise TrainerError("small_cnn has no ImageNet weights: pass --weights=none (or a weights file of it).")
  import keras
  inputs = keras.Input(input_shape)
  x = inputs
  for block, channels in enumerate((32, 64, 128, 256)):
    x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"block{block}_conv")(x)
    # A short memory for the batch statistics: with few steps the default 0.99 leaves them wrong.
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn")(x)
    x = keras.layers.Activation("relu", name=f"block{block}_relu")(x)
    if block < 3:
      x = keras.layers.MaxPooling2D(name=f"block{block}_pool")(x)
  model = keras.Model(inputs, x, name="small_cnn")
  if weights:
    model.load_weights(weights)
  return model
