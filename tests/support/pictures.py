"""What a written picture must be: a real RGB image with something drawn on it, and the very same pixels in
TensorBoard as in the PNG."""

import io

import numpy as np
from PIL import Image


def png_pixels(path) -> np.ndarray:
  with Image.open(path) as picture:
    assert picture.format == "PNG" and picture.mode == "RGB", (path, picture.format, picture.mode)
    return np.asarray(picture)


def tensorboard_pictures(log_dir, tag: str) -> dict[int, np.ndarray]:
  """Every image summary of `tag` under log_dir by its step (the newest of a step), decoded."""
  from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
  accumulator = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
  accumulator.Reload()
  return {event.step: np.asarray(Image.open(io.BytesIO(event.tensor_proto.string_val[2])).convert("RGB"))
          for event in accumulator.Tensors(tag)}


def assert_picture(path, log_dir, tag: str, step: int | None = None, min_shape: tuple[int, int] = (32, 32)):
  """The PNG at path is an RGB picture of at least min_shape with more than one colour, and the image summary
  `tag` in log_dir of `step` (default: the last step) holds exactly its pixels. Returns the pixels."""
  pixels = png_pixels(path)
  assert pixels.shape[0] >= min_shape[0] and pixels.shape[1] >= min_shape[1], pixels.shape
  assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 2, f"{path} is blank"
  logged = tensorboard_pictures(log_dir, tag)
  step = max(logged) if step is None and logged else step
  assert step in logged and np.array_equal(logged[step], pixels), f"TensorBoard's {tag} of step {step} is not {path}"
  return pixels
