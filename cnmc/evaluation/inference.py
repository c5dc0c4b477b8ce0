"""A trained classifier, and its P(ALL) for every image of a dataset, with optional TTA.

Test-time augmentation averages the 8 symmetries of the square (4 rotations by 90 degrees, each
also mirrored): cells have no orientation, and these 8 move pixels without resampling them.
"""

import os
import sys
import zipfile

import keras
import numpy as np
import tensorflow as tf
import tqdm

import pipeline.augment  # noqa: F401  (registers the augmentation layer for loading)
import pipeline.input_transforms  # noqa: F401  (and the input transform layer)
from cnmc.evaluation.errors import EvaluationError
from cnmc.run_folder import layout, record

TTA_VIEWS = 8


def resolve_model(model: str | None, model_dir: str | None) -> str:
  """The .keras file to load: --model as given, or --model_dir's best.keras (else model.keras)."""
  return candidate_models(model, model_dir)[0]


def candidate_models(model: str | None, model_dir: str | None) -> list[str]:
  """--model alone, or --model_dir's best.keras then model.keras (the fallback if best.keras is damaged)."""
  if bool(model) == bool(model_dir):
    raise EvaluationError("Pass exactly one of --model=<file.keras> and --model_dir=<a trainer run directory>.")
  if model:
    if not os.path.exists(model):
      raise EvaluationError(f"--model={model}: no such file.")
    if not os.path.isfile(model) or not model.endswith(".keras"):
      raise EvaluationError(f"--model={model}: not a .keras file (the trainer writes best.keras and model.keras).")
    return [model]
  if not os.path.isdir(model_dir):
    problem = ("it is a file, not a run folder (pass a .keras file as --model)" if os.path.exists(model_dir)
               else "no such folder. Pass the folder a `python -m trainer` run wrote (its --model_dir)")
    raise EvaluationError(f"--model_dir={model_dir}: {problem}.")
  found = [os.path.join(model_dir, name) for name in layout.MODEL_FILES
           if os.path.isfile(os.path.join(model_dir, name))]
  if not found:
    raise EvaluationError(f"--model_dir={model_dir} holds neither best.keras nor model.keras: is it a finished "
                          "(or at least once validated) training run of `python -m trainer`?")
  return found


def run_record(model_path: str) -> record.RunRecord | None:
  """The record of the run the model comes from (None for a model file outside a run): its dataset, splits."""
  try:
    return record.read_record(os.path.dirname(model_path))
  except record.DamagedRecord as error:
    raise EvaluationError(f"{error}. It names the dataset the model was trained on: restore it, or pass "
                          "--dataset (and --split) explicitly and --model=<the .keras file>.") from None


def load_classifier(model_path: str) -> tuple[keras.Model, int]:
  """(model, its input size). Only the weights and graph are loaded; no optimizer state."""
  if not zipfile.is_zipfile(model_path):
    raise EvaluationError(f"'{model_path}' is damaged: not a complete .keras archive (was its writer stopped, or "
                          "the copy cut short?).")
  try:
    model = keras.saving.load_model(model_path, compile=False)
  except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile) as error:
    raise EvaluationError(f"Cannot load the model '{model_path}': {error}".split("\n")[0]) from None
  shape = model.input_shape
  if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
    raise EvaluationError(f"'{model_path}' takes inputs of shape {shape}; expected (None, S, S, 3) cell images.")
  return model, int(shape[1])


def load_run_model(model: str | None, model_dir: str | None) -> tuple[keras.Model, str, int]:
  """(model, the file it came from, its input size): --model, or --model_dir's best.keras, falling back to
  its model.keras with a warning when best.keras is damaged."""
  first, *fallback = candidate_models(model, model_dir)
  try:
    loaded, size = load_classifier(first)
    return loaded, first, size
  except EvaluationError as error:
    if not fallback:
      raise
    print(f"warning: {error} Using {fallback[0]} (the run's final model) instead.", file=sys.stderr, flush=True)
  loaded, size = load_classifier(fallback[0])
  return loaded, fallback[0], size


def dihedral_views(images: tf.Tensor) -> tf.Tensor:
  """(B, S, S, C) -> (8 * B, S, S, C): the 4 rotations by 90 degrees, then each of them mirrored."""
  rotations = [tf.image.rot90(images, k) for k in range(4)]
  return tf.concat(rotations + [tf.image.flip_left_right(r) for r in rotations], axis=0)


def make_predict_fn(model: keras.Model, tta: bool):
  """(B, S, S, 3) uint8 -> (B,) float32 P(ALL), averaged over the 8 views with tta."""
  @tf.function(input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)])  # one trace for any batch
  def predict(images):
    if not tta:
      return tf.reshape(tf.cast(model(images, training=False), tf.float32), (-1,))
    batch = tf.shape(images)[0]
    probabilities = tf.cast(model(dihedral_views(images), training=False), tf.float32)
    return tf.reduce_mean(tf.reshape(probabilities, (TTA_VIEWS, batch)), axis=0)
  return predict


def make_feature_fn(model: keras.Model):
  """(B, S, S, 3) uint8 -> (B, D) float32 pooled backbone features of the plain view."""
  try:
    pool = model.get_layer(layout.FEATURE_LAYER)
  except ValueError:
    raise EvaluationError(f"The model '{model.name}' has no layer named {layout.FEATURE_LAYER!r} (models trained by "
                          "`python -m trainer` have it), so it gives no features for the neighbourhood "
                          "correction.") from None
  features = keras.Model(model.inputs, pool.output)

  @tf.function(input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)])
  def embed(images):
    return tf.cast(features(images, training=False), tf.float32)
  return embed


def predict_dataset(model: keras.Model, batches, tta_modes=(False,), total: int | None = None,
                    features: bool = False) -> dict:
  """Runs the model over dict batches {"image": (B, S, S, 3) uint8, ...}.

  Args:
    model: a classifier returning P(ALL).
    batches: an iterable of dicts; every key but "image" is carried through.
    tta_modes: (False,), (True,) or (False, True) for both.
    total: how many images the batches hold, for a progress bar (none if None).
    features: also return each image's pooled backbone features ("features", (N, D)).
  Returns:
    {"probability" and/or "probability_tta": (N,) float32, ["features"], every other key: (N,) numpy}.
  Raises:
    EvaluationError: no images, or an output that is not a number (a broken model).
  """
  return predict_models([model], batches, tta_modes, total, features)[0]


def predict_models(models: list[keras.Model], batches, tta_modes=(False,), total: int | None = None,
                   features: bool = False) -> list[dict]:
  """predict_dataset for several models of one input size over the same batches, each batch read (and its
  images decoded) once for all of them; one result per model."""
  predict_fns = [{tta: make_predict_fn(model, tta) for tta in tta_modes} for model in models]
  embeds = [make_feature_fn(model) if features else None for model in models]
  outputs: list[dict[str, list]] = [{} for _ in models]
  carried: dict[str, list] = {}
  quiet = total is None or not sys.stderr.isatty()  # no redrawn bar in a log file
  with tqdm.tqdm(total=total, unit=" images", mininterval=1.0, desc="Predicting", disable=quiet) as bar:
    for batch in batches:
      for columns, fns, embed in zip(outputs, predict_fns, embeds, strict=True):
        for tta, predict in fns.items():
          columns.setdefault("probability_tta" if tta else "probability", []).append(predict(batch["image"]).numpy())
        if embed is not None:
          columns.setdefault("features", []).append(embed(batch["image"]).numpy())
      for key, value in batch.items():
        if key != "image":
          carried.setdefault(key, []).append(np.asarray(value))
      bar.update(len(batch["image"]))
  if not carried and not outputs[0]:
    raise EvaluationError("There are no images to predict.")
  shared = {key: np.concatenate(parts) for key, parts in carried.items()}
  results = [{**{key: np.concatenate(parts) for key, parts in columns.items()}, **shared} for columns in outputs]
  for result in results:
    for key in ("probability", "probability_tta"):
      if key in result and not np.isfinite(result[key]).all():
        raise EvaluationError(f"The model's output is not a number for {int((~np.isfinite(result[key])).sum())} "
                              f"of {len(result[key])} images: the model is broken (did its training diverge?). "
                              "Nothing was written.")
  return results
