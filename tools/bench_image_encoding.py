"""How to store cell images in the TFRecords, and how to shrink them: measures size and speed.

  python -m tools.bench_image_encoding --images=64

Renders synthetic cells (the real ones cannot be shipped), encodes each as BMP and PNG, and times
decoding with TensorFlow's own ops, one image at a time on one thread (what one tf.data worker
does), plus the encoding cost the dataset build pays once. Then times PNG decode + resize to
--resize_to px with the resize methods worth considering. Prints tables and writes JSON.
"""

from absl import flags

from cnmc.benchmarks.image_encoding import measure, measure_resize, synthetic_cells
from cnmc.cli.main import run
from cnmc.storage import atomic

_IMAGES = flags.DEFINE_integer("images", 64, "How many synthetic cells to measure on.", lower_bound=1)
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timing passes over the images; the best is kept.", lower_bound=1)
_RESIZE_TO = flags.DEFINE_integer("resize_to", 300, "Target size for the decode + resize timings.", lower_bound=1)
_OUTPUT = flags.DEFINE_string("output", "bench_image_encoding.json", "Where to write the JSON results.")


def main():
  import tensorflow as tf  # after flag parsing: TF's import is slow and noisy
  tf.config.threading.set_inter_op_parallelism_threads(1)
  tf.config.threading.set_intra_op_parallelism_threads(1)
  images = synthetic_cells(_IMAGES.value)
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
