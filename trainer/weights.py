"""Where a backbone's initial weights come from: none, a file, or ImageNet (cache or download).

keras.applications downloads ImageNet weights into the Keras cache (~/.keras/models/), which
cannot work offline. This resolves --weights to what the backbone builder takes, and turns every
way it can fail into one message saying where to put the file.
"""

from __future__ import annotations

import os
import socket
import warnings
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
    with warnings.catch_warnings():  # a mismatched file: one warning per layer, then the error said below
      warnings.filterwarnings("ignore", message="Skipping nested container")
      return backbone.build(input_shape, weights)
  except TrainerError:
    raise
  except Exception as error:  # keras' get_file raises a bare Exception on network failures
    reason = _first_line(error)
    if weights == "imagenet" and not os.path.exists(cache):
      raise TrainerError(f"Could not download the ImageNet weights for {backbone.name} ({reason}).\n"
                         f"{offline_hint}") from None
    if weights == "imagenet":  # a cached file whose hash differs from the published one, and no download
      raise TrainerError(f"{cache} differs from the published {backbone.weights_file} (Keras checks its hash) and "
                         f"fetching that again failed ({reason}). Replace it with the published file from a connected "
                         "machine, pass --weights=<its path> to use this file as it is, or --weights=none.") from None
    if weights is not None:
      raise TrainerError(f"--weights={weights} holds {describe_weights_file(weights)}; {backbone.name} starts from "
                         f"{backbone.weights_file} (its ImageNet weights without the top). Pass that file, imagenet "
                         "or none.") from None
    raise
  finally:
    socket.setdefaulttimeout(previous_timeout)


def _first_line(error: Exception, limit: int = 200) -> str:
  text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
  return text if len(text) <= limit else text[:limit] + " ..."


def describe_weights_file(path: str) -> str:
  """What a weights file holds, in a few words: a run's backup (a whole model and its optimizer), a Keras 3
  weights file of some model, a Keras 2 one with its layer count, or something that is not a weights file."""
  try:
    import h5py
    with h5py.File(path, "r") as f:
      if "optimizer" in f:
        return "a training backup (a whole model with its optimizer state, such as a run's backup/ files)"
      if "layers" in f or "vars" in f:
        return f"the weights of another model ({len(f.get('layers', {}))} layers, saved by Keras 3)"
      names = f.attrs.get("layer_names")
      if names is not None:
        return f"the weights of another model ({len(names)} layers)"
      return "no weights Keras can read"
  except (OSError, ImportError):
    return "no HDF5 weights file"
