"""How to store cell images in the TFRecords, and how to shrink them: measures size and speed.

  python -m tools.bench_image_encoding --images=64

Renders synthetic cells (the real ones cannot be shipped), encodes each as BMP and PNG, and times
decoding with TensorFlow's own ops, one image at a time on one thread (what one tf.data worker
does), plus the encoding cost the dataset build pays once. Then times PNG decode + resize to
--resize_to px with the resize methods worth considering. Prints tables and writes JSON.
"""

import io
import time

import numpy as np
from absl import flags

from cli.main import run
from storage import atomic
from PIL import Image

_IMAGES = flags.DEFINE_integer("images", 64, "How many synthetic cells to measure on.", lower_bound=1)
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timing passes over the images; the best is kept.", lower_bound=1)
_RESIZE_TO = flags.DEFINE_integer("resize_to", 300, "Target size for the decode + resize timings.", lower_bound=1)
_OUTPUT = flags.DEFINE_string("output", "bench_image_encoding.json", "Where to write the JSON results.")


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


def _cells(n_images: int) -> list[np.ndarray]:
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


def main():
  import tensorflow as tf  # after flag parsing: TF's import is slow and noisy
  tf.config.threading.set_inter_op_parallelism_threads(1)
  tf.config.threading.set_intra_op_parallelism_threads(1)
  images = _cells(_IMAGES.value)
  results = measure(images, _REPEATS.value)
  print(f"{'format':8}{'KB/image':>10}{'encode ms':>11}{'decode ms':>11}")
  for fmt, r in results.items():
    print(f"{fmt:8}{r['bytes_per_image'] / 1024:10.1f}{r['encode_ms']:11.2f}{r['decode_ms']:11.2f}")
  bmp, png = results["BMP"], results["PNG"]
  print(f"PNG is {bmp['bytes_per_image'] / png['bytes_per_image']:.1f}x smaller; "
        f"BMP decodes {png['decode_ms'] / bmp['decode_ms']:.1f}x faster.")
  resize = measure_resize(images, _RESIZE_TO.value, _REPEATS.value)
  print(f"\nPNG 450 px -> {_RESIZE_TO.value} px, ms per image, one thread:")
  for name, ms in resize.items():
    print(f"  {name:32}{ms:7.2f}")
  atomic.write_json(_OUTPUT.value, {"images": _IMAGES.value, "results": results, "resize_ms": resize})


if __name__ == "__main__":
  run(main)
