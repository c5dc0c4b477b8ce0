"""Images/s of this project's input pipeline against the usual ways (see tools/bench_pipeline.py).

Each measure_* function builds its input, times a few batches and returns images/s; `ratios` and
`report` turn the rates into what the tool prints and writes.
"""

import time

from absl import logging

from cnmc.benchmarks.data import ROTATION_DEGREES, SHEAR, SHIFT, ZOOM


def _rate(batches, images_per_batch: int, seconds: float) -> float:
  return batches * images_per_batch / seconds


def _time_batches(iterator, n: int, warmup: int = 1) -> float:
  """Seconds to pull n batches after `warmup` untimed ones."""
  for _ in range(warmup):
    next(iterator)
  start = time.perf_counter()
  for _ in range(n):
    batch = next(iterator)
  _ = batch[0][0, 0, 0, 0].numpy() if hasattr(batch[0], "numpy") else None  # make sure work is done
  return time.perf_counter() - start


def measure_notebook_baseline(folder: str, size: int, batch: int, batches: int) -> float | None:
  try:
    from tf_keras.preprocessing.image import ImageDataGenerator
  except ImportError:
    logging.warning("Skipping the notebook baseline: install the `notebook` extra (tf-keras, scipy).")
    return None
  generator = ImageDataGenerator(rotation_range=ROTATION_DEGREES, width_shift_range=SHIFT,
                                 height_shift_range=SHIFT, shear_range=SHEAR, zoom_range=ZOOM,
                                 horizontal_flip=True)
  flow = generator.flow_from_directory(folder, target_size=(size, size), batch_size=batch,
                                       class_mode="binary", follow_links=True)
  return _rate(batches, batch, _time_batches(flow, batches))


def measure_keras3_baseline(folder: str, size: int, batch: int, batches: int, augment: bool = True) -> float:
  import keras
  import tensorflow as tf
  dataset = keras.utils.image_dataset_from_directory(folder, image_size=(size, size), batch_size=batch,
                                                     label_mode="binary", follow_links=True)
  if augment:
    augmentation = keras.Sequential([
        keras.layers.RandomRotation(ROTATION_DEGREES / 360), keras.layers.RandomShear(SHEAR, SHEAR),
        keras.layers.RandomTranslation(SHIFT, SHIFT), keras.layers.RandomZoom(ZOOM),
        keras.layers.RandomFlip("horizontal")])
    dataset = dataset.map(lambda x, y: (augmentation(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
  iterator = iter(dataset.repeat().prefetch(tf.data.AUTOTUNE))
  return _rate(batches, batch, _time_batches(iterator, batches))


def _train_iterator(builder, size: int, batch: int, augment: bool):
  import tensorflow as tf
  from pipeline.augment import CellAugmentation
  from pipeline.input_pipeline import make_train_dataset
  # balance="none": the first epoch then decodes every image exactly once, a clean cold figure.
  train = make_train_dataset(builder, image_size=size, batch_size=batch, balance="none", seed=0)
  batches = iter(train.dataset)
  if not augment:
    return batches, train.steps_per_epoch
  # As in the train step: the consumer augments each uint8 batch (XLA), tf.data prefetches meanwhile.
  augmentation = CellAugmentation(rotation=ROTATION_DEGREES, shift=SHIFT, shear=SHEAR, zoom=ZOOM, seed=0)
  step = tf.function(lambda x: augmentation(x, training=True), jit_compile=True)
  step(tf.zeros((batch, size, size, 3), tf.uint8))  # compile outside the timed epochs
  return ((step(images), labels) for images, labels in batches), train.steps_per_epoch


def measure_pipeline(builder, size: int, batch: int, warm_epochs: int, augment: bool) -> dict:
  """Cold: the first epoch from a fresh pipeline (decodes everything); warm: epochs from the cache."""
  iterator, steps = _train_iterator(builder, size, batch, augment)
  cold = _time_batches(iterator, steps, warmup=0)
  warm = _time_batches(iterator, warm_epochs * steps, warmup=0)
  return {"cold": _rate(steps, batch, cold), "warm": _rate(warm_epochs * steps, batch, warm)}


def _layer_rate(fn, images, batches: int) -> float:
  fn(images).numpy()  # compile
  start = time.perf_counter()
  for _ in range(batches):
    out = fn(images)
  out.numpy()
  return _rate(batches, images.shape[0], time.perf_counter() - start)


def _chain(layers):
  def run(x):
    for layer in layers:
      x = layer(x, training=True)
    return x
  return run


def measure_augmentation_layers(size: int, batch: int, batches: int) -> dict:
  """The fused layers against the keras-cv layers they replace, on one float batch (the keras-cv rows
  are None without the `bench` extra)."""
  import tensorflow as tf
  from pipeline.fused_affine import FusedRandomAffine
  from pipeline.fused_colour import FusedColourJitter
  images = tf.random.uniform((batch, size, size, 3), 0, 255)
  fused_affine = FusedRandomAffine(ROTATION_DEGREES, SHIFT, SHEAR, ZOOM, horizontal_flip=True, seed=0)
  fused_colour = FusedColourJitter(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.03, seed=0)
  rates = {
      "fused_affine_xla": _layer_rate(tf.function(lambda x: fused_affine(x, training=True), jit_compile=True),
                                      images, batches),
      "fused_colour_xla": _layer_rate(tf.function(lambda x: fused_colour(x, training=True), jit_compile=True),
                                      images, batches),
  }
  try:
    import keras_cv
  except ImportError:
    logging.warning("Skipping the keras-cv layers: install the `bench` extra (keras-cv).")
    return {**rates, "keras_cv_affine_chain": None, "keras_cv_colour_chain_xla": None}
  affine_chain = _chain([
      keras_cv.layers.RandomRotation(ROTATION_DEGREES / 360, fill_mode="constant", seed=0),
      keras_cv.layers.RandomShear(SHEAR, SHEAR, fill_mode="constant", seed=0),
      keras_cv.layers.RandomTranslation(SHIFT, SHIFT, fill_mode="constant", seed=0),
      keras_cv.layers.RandomZoom(ZOOM, fill_mode="constant", seed=0),
      keras_cv.layers.RandomFlip("horizontal", seed=0)])
  colour_chain = _chain([
      keras_cv.layers.RandomBrightness(0.1, value_range=(0, 255)),
      keras_cv.layers.RandomContrast((0, 255), 0.1),
      keras_cv.layers.RandomSaturation((0.45, 0.55)),
      keras_cv.layers.RandomHue(0.03, (0, 255))])
  return {
      **rates,
      # ImageProjectiveTransformV3 has no XLA kernel: the chain can only run as a plain tf.function.
      "keras_cv_affine_chain": _layer_rate(tf.function(affine_chain), images, batches),
      "keras_cv_colour_chain_xla": _layer_rate(tf.function(colour_chain, jit_compile=True), images, batches),
  }


def measure_all(builder, folder: str, size: int, batch: int, batches: int, warm_epochs: int,
                progress=print) -> dict:
  """Every row's images/s: {"notebook", "keras3", "keras3_no_augmentation": float (notebook None without
  tf-keras), "host", "end_to_end_cpu": {"cold", "warm"}, "layers": {name: float}}."""
  steps = [("notebook", lambda: measure_notebook_baseline(folder, size, batch, batches)),
           ("keras3", lambda: measure_keras3_baseline(folder, size, batch, batches)),
           ("keras3_no_augmentation", lambda: measure_keras3_baseline(folder, size, batch, batches, augment=False)),
           ("host", lambda: measure_pipeline(builder, size, batch, warm_epochs, augment=False)),
           ("end_to_end_cpu", lambda: measure_pipeline(builder, size, batch, warm_epochs, augment=True)),
           ("layers", lambda: measure_augmentation_layers(size, batch, batches))]
  results = {}
  for i, (name, measure) in enumerate(steps, start=1):
    progress(f"[{i}/{len(steps)}] measuring {name} ...", flush=True)
    results[name] = measure()
  return results


def _rows(results: dict) -> list[tuple[str, str, float | None]]:
  """(JSON key, table label, images/s) of every row, in the table's order."""
  layers = results["layers"]
  return [("notebook", "1 notebook: ImageDataGenerator", results["notebook"]),
          ("keras3", "2 keras3: image_dataset_from_directory + layers", results["keras3"]),
          ("keras3_no_augmentation", "  keras3 without augmentation", results["keras3_no_augmentation"]),
          ("host_cold", "3 host delivery, cold (decoding)", results["host"]["cold"]),
          ("host_warm", "3 host delivery, warm (cached)", results["host"]["warm"]),
          ("end_to_end_cpu_cold", "4 end to end on CPU, cold", results["end_to_end_cpu"]["cold"]),
          ("end_to_end_cpu_warm", "4 end to end on CPU, warm", results["end_to_end_cpu"]["warm"]),
          ("fused_affine_xla", "5 fused affine (XLA)", layers["fused_affine_xla"]),
          ("keras_cv_affine_chain", "5 keras-cv affine chain (no XLA kernel)", layers["keras_cv_affine_chain"]),
          ("fused_colour_xla", "6 fused colour jitter (XLA)", layers["fused_colour_xla"]),
          ("keras_cv_colour_chain_xla", "6 keras-cv colour chain (XLA)", layers["keras_cv_colour_chain_xla"])]


def _over(rate: float | None, base: float | None) -> float | None:
  return rate / base if rate is not None and base else None


def ratios(results: dict) -> dict:
  """Each row over the notebook baseline and over keras3 (None where a rate is missing), and the fused
  layers over their keras-cv chains: the figures BUILD.md's targets are stated in."""
  layers = results["layers"]
  return {
      "vs_notebook": {key: _over(rate, results["notebook"]) for key, _, rate in _rows(results)},
      "vs_keras3": {key: _over(rate, results["keras3"]) for key, _, rate in _rows(results)},
      "fused_affine_vs_keras_cv": _over(layers["fused_affine_xla"], layers["keras_cv_affine_chain"]),
      "fused_colour_vs_keras_cv": _over(layers["fused_colour_xla"], layers["keras_cv_colour_chain_xla"]),
  }


def report(results: dict, settings: dict) -> dict:
  """What the JSON file holds: the settings, every measured rate, and the ratios computed from them."""
  return {"settings": settings, "images_per_second": results, "ratios": ratios(results)}


def _cell(value: float | None, width: int, digits: int = 1) -> str:
  return f"{value:{width}.{digits}f}" if value is not None else f"{'n/a':>{width}}"


def table(results: dict) -> str:
  """The printed table: images/s per row, x notebook, x keras3, then the layer ratios."""
  relative = ratios(results)
  lines = [f"{'what':50}{'img/s':>10}{'x notebook':>12}{'x keras3':>10}"]
  for key, label, rate in _rows(results):
    lines.append(f"{label:50}{_cell(rate, 10, 0)}{_cell(relative['vs_notebook'][key], 12)}"
                 f"{_cell(relative['vs_keras3'][key], 10)}")
  lines.append(f"fused affine / keras-cv chain: {_cell(relative['fused_affine_vs_keras_cv'], 0)}x; "
               f"fused colour / keras-cv chain: {_cell(relative['fused_colour_vs_keras_cv'], 0)}x")
  return "\n".join(lines)
