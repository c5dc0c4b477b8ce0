"""Where a backbone's initial weights come from: none, a file, or ImageNet (cache or download).

keras.applications downloads ImageNet weights into the Keras cache (~/.keras/models/), which
cannot work offline. This resolves --weights to what the backbone builder takes, and turns every
way it can fail into one message saying where to put the file.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from trainer.backbones import Backbone
from trainer.errors import TrainerError

if TYPE_CHECKING:
  import keras

_DOWNLOAD_TIMEOUT_S = 60


def keras_cache_path(backbone: Backbone) -> str:
  """Where keras.applications looks for (and saves) the backbone's ImageNet weights."""
  keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
  return os.path.join(keras_home, "models", backbone.weights_file)


def resolve_weights(flag: str) -> str | None:
  """--weights -> the `weights` argument of a keras.applications constructor.

  "none" -> None (random init), "imagenet" -> "imagenet", otherwise a path that must exist.
  """
  if flag == "none":
    return None
  if flag == "imagenet":
    return "imagenet"
  path = os.path.expanduser(flag)
  if not os.path.isfile(path):
    raise TrainerError(f"--weights={flag!r}: no such file. Pass imagenet, none, or the path of a "
                       "weights file (.h5 or .weights.h5) for the backbone without its top.")
  return path


def build_with_weights(backbone: Backbone, input_shape: tuple[int, int, int], weights: str | None) -> keras.Model:
  """Builds the backbone; a failed ImageNet download or a mismatched file is a TrainerError."""
  cache = keras_cache_path(backbone)
  offline_hint = (f"Download {backbone.weights_file} on a connected machine (keras.applications does, "
                  f"into ~/.keras/models/) and copy it to {cache}, or pass --weights=<path to it>, "
                  "or --weights=none to train from scratch.")
  previous_timeout = socket.getdefaulttimeout()
  socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)  # urllib would otherwise wait forever on a dead network
  try:
    return backbone.build(input_shape, weights)
  except TrainerError:
    raise
  except Exception as error:  # keras' get_file raises a bare Exception on network failures
    if weights == "imagenet" and not os.path.exists(cache):
      raise TrainerError(f"Could not download the ImageNet weights for {backbone.name} ({error}).\n"
                         f"{offline_hint}") from None
    if weights is not None:
      where = cache if weights == "imagenet" else weights
      raise TrainerError(f"Could not load the weights {where!r} into {backbone.name} ({error}). Is it the "
                         f"notop weights file of this backbone? {offline_hint}") from None
    raise
  finally:
    socket.setdefaulttimeout(previous_timeout)
