"""Reads one cell image from the download, checks it, and brings it to 450x450."""

import numpy as np
from etils import epath
from PIL import Image, UnidentifiedImageError

from cnmc_tfds.cnmc.errors import DatasetError

from cnmc_tfds.vocabulary import IMAGE_SIZE
# Some final-phase images were released at 600x600; participants centre-cropped them to 450.
_CROPPABLE_SIZE = 600


def centre_crop(image: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
  """(H, W, C) -> (size, size, C), the central square."""
  top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
  return image[top:top + size, left:left + size]


def read_cell_image(path: epath.PathLike) -> tuple[np.ndarray, bool]:
  """Decodes an image file fully; returns ((450, 450, 3) uint8 RGB, whether it was cropped).

  Raises DatasetError naming the file if it is unreadable, truncated or of an unexpected size.
  """
  try:
    with epath.Path(path).open("rb") as f, Image.open(f) as image:
      image.load()  # decodes every row, so a truncated file fails here and not in training
      pixels = np.asarray(image.convert("RGB"))
  except (OSError, UnidentifiedImageError, ValueError) as error:
    raise DatasetError(f"Cannot read the image '{path}' ({error}). The file is damaged or not an image: "
                       "download it again, or delete it if it should not be in the dataset.") from None
  height, width = pixels.shape[:2]
  if (height, width) == (IMAGE_SIZE, IMAGE_SIZE):
    return pixels, False
  if (height, width) == (_CROPPABLE_SIZE, _CROPPABLE_SIZE):
    return centre_crop(pixels), True
  raise DatasetError(f"The image '{path}' is {width}x{height}; C-NMC 2019 cell images are "
                     f"{IMAGE_SIZE}x{IMAGE_SIZE} (or {_CROPPABLE_SIZE}x{_CROPPABLE_SIZE}, centre-cropped).")
