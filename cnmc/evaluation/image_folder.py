"""Cell images straight from a folder (BMP or PNG, 450x450 or 600x600), in batches for a model."""

import os

import numpy as np
import tensorflow as tf

from cnmc_tfds.cnmc.cell_images import read_cell_image
from cnmc_tfds.cnmc.errors import DatasetError
from cnmc.evaluation.errors import EvaluationError
from pipeline.input_pipeline import resize_cells

IMAGE_EXTENSIONS = (".bmp", ".png")


def list_images(folder: str) -> list[str]:
  """The folder's BMP and PNG files (not its subfolders), sorted by name."""
  if not os.path.isdir(folder):
    raise EvaluationError(f"--images={folder}: no such folder.")
  names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)
                 and os.path.isfile(os.path.join(folder, n)))
  if not names:
    raise EvaluationError(f"--images={folder} holds no .bmp or .png files (subfolders are not searched).")
  return names


def folder_batches(folder: str, names: list[str], image_size: int, batch_size: int):
  """Yields {"image": (B, S, S, 3) uint8, "file_name": (B,) bytes}, resized as the TFDS pipeline does.

  Every image is tried; if any cannot be read, an EvaluationError naming all of them ends the run.
  """
  unreadable, images, batch_names = [], [], []
  for name in names:
    try:
      pixels, _ = read_cell_image(os.path.join(folder, name))
    except DatasetError as error:
      unreadable.append(f"  {error}")
      continue
    images.append(resize_cells(tf.constant(pixels), image_size).numpy())
    batch_names.append(name.encode())
    if len(images) == batch_size:
      yield {"image": np.stack(images), "file_name": np.array(batch_names, dtype=object)}
      images, batch_names = [], []
  if images:
    yield {"image": np.stack(images), "file_name": np.array(batch_names, dtype=object)}
  if unreadable:
    raise EvaluationError(f"{len(unreadable)} of {len(names)} images in {folder} cannot be used:\n" +
                          "\n".join(unreadable[:50]) + ("\n  ..." if len(unreadable) > 50 else "") +
                          "\nNo predictions were written.")
