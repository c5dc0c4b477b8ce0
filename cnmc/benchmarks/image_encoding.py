"""PNG against BMP bytes in the TFRecords, and resize methods: size and speed on synthetic cells (the real
ones cannot be shipped), one image at a time (what one tf.data worker does). tools/bench_image_encoding.py
prints and writes what these return."""

import io
import time

import numpy as np
from PIL import Image


def _encode(image: np.ndarray, fmt: str) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format=fmt)
  return buffer.getvalue()


def _best_seconds_per_image(fn, items, repeats: int) -> float:
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    for item in items:
      fn(item)
    best = min(best, (time.perf_counter() - start) / len(items))
  return best


def synthetic_cells(n_images: int) -> list[np.ndarray]:
  from cnmc_tfds.vocabulary import ALL, HEM
  from cnmc_tfds.cnmc.synthetic_cells import draw_subject_style, render_cell
  rng = np.random.default_rng(0)
  return [render_cell(rng, ALL if i % 2 else HEM, draw_subject_style(rng)) for i in range(n_images)]


def measure_resize(images: list[np.ndarray], size: int, repeats: int) -> dict:
  """ms per image for PNG decode alone and decode + resize to size, per resize method."""
  import tensorflow as tf
  tensors = [tf.constant(_encode(image, "PNG")) for image in images]
  variants = {
      "decode only": lambda p: tf.io.decode_png(p, channels=3),
      "decode + bilinear, antialias": lambda p: tf.image.resize(
          tf.io.decode_png(p, channels=3), (size, size), antialias=True),
      "decode + bilinear": lambda p: tf.image.resize(tf.io.decode_png(p, channels=3), (size, size)),
      "decode + area": lambda p: tf.image.resize(tf.io.decode_png(p, channels=3), (size, size), method="area"),
  }
  return {name: 1e3 * _best_seconds_per_image(fn, tensors, repeats) for name, fn in variants.items()}


def measure(images: list[np.ndarray], repeats: int) -> dict:
  """Returns {format: {bytes, encode_ms, decode_ms}} for BMP and PNG on the given cells."""
  import tensorflow as tf
  decoders = {"BMP": tf.io.decode_bmp, "PNG": tf.io.decode_png}
  results = {}
  for fmt, decode in decoders.items():
    encoded = [_encode(image, fmt) for image in images]
    tensors = [tf.constant(e) for e in encoded]
    assert np.array_equal(decode(tensors[0]).numpy(), images[0]), f"{fmt} is not lossless"
    results[fmt] = {
        "bytes_per_image": float(np.mean([len(e) for e in encoded])),
        "encode_ms": 1e3 * _best_seconds_per_image(lambda im, f=fmt: _encode(im, f), images, repeats),
        "decode_ms": 1e3 * _best_seconds_per_image(decode, tensors, repeats),
    }
  return results
