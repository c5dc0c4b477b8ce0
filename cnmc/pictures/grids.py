"""Image grids (augmented samples, Grad-CAM overlays) and the confusion matrix, each written as a PNG and
as an image summary for TensorBoard."""

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from cnmc_tfds.vocabulary import ALL, CLASS_NAMES, HEM
from cnmc.storage import atomic

_CELL = 140  # confusion-matrix square, pixels


def image_grid(images: np.ndarray, columns: int = 4) -> np.ndarray:
  """(N, H, W, 3) -> one (rows*H, columns*W, 3) uint8 mosaic, row by row, with 2 px gaps."""
  images = np.clip(np.asarray(images, np.float32), 0, 255).astype(np.uint8)
  n, h, w, c = images.shape
  rows = -(-n // columns)
  grid = np.full((rows * (h + 2), columns * (w + 2), c), 255, np.uint8)
  for i, image in enumerate(images):
    r, k = divmod(i, columns)
    grid[r * (h + 2):r * (h + 2) + h, k * (w + 2):k * (w + 2) + w] = image
  return grid


def captioned(images: np.ndarray, captions: list[str]) -> np.ndarray:
  """(N, H, W, 3) images with a caption written in the top-left corner of each (white on a black band)."""
  out = []
  for image, caption in zip(np.clip(np.asarray(images, np.float32), 0, 255).astype(np.uint8), captions, strict=True):
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, 6 * len(caption) + 3, 12), fill="black")
    draw.text((2, 1), caption, fill="white")
    out.append(np.asarray(picture, np.float32))
  return np.stack(out)


def confusion_matrix_picture(tp: float, fp: float, tn: float, fn: float) -> np.ndarray:
  """A labelled 2x2 confusion matrix (rows: true class, columns: predicted), (H, W, 3) uint8."""
  rows = [(CLASS_NAMES[HEM].upper(), [tn, fp]), (CLASS_NAMES[ALL].upper(), [fn, tp])]
  picture = Image.new("RGB", (60 + 2 * _CELL, 40 + 2 * _CELL), "white")
  draw = ImageDraw.Draw(picture)
  draw.text((60, 5), "predicted HEM", fill="black")
  draw.text((60 + _CELL, 5), "predicted ALL", fill="black")
  for r, (name, counts) in enumerate(rows):
    draw.text((5, 40 + r * _CELL + _CELL // 2), f"true {name}", fill="black")
    total = max(sum(counts), 1)
    for k, count in enumerate(counts):
      share = count / total
      shade = int(255 - 180 * share)  # darker = larger share of the true class
      box = (60 + k * _CELL, 40 + r * _CELL, 60 + (k + 1) * _CELL - 2, 40 + (r + 1) * _CELL - 2)
      draw.rectangle(box, fill=(shade, shade, 255), outline="grey")
      draw.text((box[0] + 10, box[1] + _CELL // 2 - 10), f"{int(count)}\n{share:.1%}",
                fill="white" if shade < 140 else "black")
  return np.asarray(picture)


def titled(picture: np.ndarray, title: str) -> np.ndarray:
  """The picture under a white band with `title` (what it shows, and of which epoch or split), (H + 20, W, 3)."""
  width = max(picture.shape[1], 6 * len(title) + 10)
  canvas = Image.new("RGB", (width, picture.shape[0] + 20), "white")
  canvas.paste(Image.fromarray(np.asarray(picture, np.uint8)), (0, 20))
  ImageDraw.Draw(canvas).text((5, 4), title, fill="black")
  return np.asarray(canvas)


def save_picture(picture: np.ndarray, png_path: str | None, writer, tag: str, step: int) -> None:
  """Writes the picture as a PNG (atomically; not with png_path None) and as a TensorBoard image summary."""
  if png_path is not None:
    with atomic.atomic_path(png_path) as temporary:
      Image.fromarray(picture).save(temporary, format="PNG")
  with writer.as_default():
    tf.summary.image(tag, picture[None], step=step)
  writer.flush()


def captioned_pair(image: np.ndarray, overlay: np.ndarray, caption: str, min_side: int = 150) -> np.ndarray:
  """[image | overlay] side by side under a caption strip, enlarged (nearest) to at least min_side px."""
  pair = Image.fromarray(np.concatenate([image, overlay], axis=1))
  scale = max(1, -(-min_side // image.shape[0]))  # small inputs are enlarged to be seen
  pair = pair.resize((pair.width * scale, pair.height * scale), Image.NEAREST)
  canvas = Image.new("RGB", (max(pair.width, 240), pair.height + 30), "white")
  canvas.paste(pair, (0, 30))
  ImageDraw.Draw(canvas).text((2, 2), caption, fill="black")
  return np.asarray(canvas)
