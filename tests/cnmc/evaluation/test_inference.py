"""Test-time augmentation and model loading."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from cnmc.run_folder import layout
from cnmc.evaluation.errors import EvaluationError
from cnmc.evaluation.inference import (TTA_VIEWS, dihedral_views, load_classifier, make_predict_fn, predict_dataset,
                                  predict_models, resolve_model)

SIZE = 16


def _dummy_model(rotation_invariant: bool) -> keras.Model:
  """uint8 images -> P: pooled over space (any rotation or mirror gives the same) or flattened (not)."""
  inputs = keras.Input((SIZE, SIZE, 3), dtype="uint8", name="image")
  x = keras.layers.Rescaling(1 / 255)(keras.ops.cast(inputs, "float32"))
  x = keras.layers.GlobalAveragePooling2D()(x) if rotation_invariant else keras.layers.Flatten()(x)
  outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=keras.initializers.RandomNormal(seed=1))(x)
  return keras.Model(inputs, outputs)


def _images(count=6, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8)


def test_tta_of_a_rotation_invariant_model_equals_no_tta():
  model, images = _dummy_model(rotation_invariant=True), _images()
  plain = make_predict_fn(model, tta=False)(images).numpy()
  tta = make_predict_fn(model, tta=True)(images).numpy()
  assert plain.shape == tta.shape == (6,)
  np.testing.assert_allclose(tta, plain, atol=1e-6)


def test_tta_of_an_orientation_sensitive_model_differs():
  model, images = _dummy_model(rotation_invariant=False), _images()
  plain = make_predict_fn(model, tta=False)(images).numpy()
  tta = make_predict_fn(model, tta=True)(images).numpy()
  assert np.abs(tta - plain).max() > 1e-4  # so the test above could fail


def test_tta_is_the_mean_over_the_eight_views():
  model, images = _dummy_model(rotation_invariant=False), _images(count=3)
  views = dihedral_views(tf.constant(images)).numpy()
  by_view = model.predict(views, verbose=0).reshape(TTA_VIEWS, 3)
  np.testing.assert_allclose(make_predict_fn(model, tta=True)(images).numpy(), by_view.mean(axis=0), atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, (1, 5, 5, 1)), st.integers(0, 3), st.booleans())
def test_the_views_of_a_turned_or_mirrored_image_are_the_same_eight(image, turns, mirror):
  moved = tf.image.rot90(tf.constant(image), turns)
  moved = tf.image.flip_left_right(moved) if mirror else moved
  original = {v.tobytes() for v in dihedral_views(tf.constant(image)).numpy()}
  assert {v.tobytes() for v in dihedral_views(moved).numpy()} == original


def test_predict_dataset_keeps_metadata_and_order():
  model = _dummy_model(rotation_invariant=True)
  images = _images(count=5)
  batches = [{"image": images[:3], "file_name": np.array([b"a", b"b", b"c"], object)},
             {"image": images[3:], "file_name": np.array([b"d", b"e"], object)}]
  out = predict_dataset(model, batches, tta_modes=(False, True))
  assert list(out["file_name"]) == [b"a", b"b", b"c", b"d", b"e"]
  np.testing.assert_allclose(out["probability"], model.predict(images, verbose=0)[:, 0], atol=1e-6)
  np.testing.assert_allclose(out["probability_tta"], out["probability"], atol=1e-6)


def test_several_models_read_the_batches_once_and_each_predicts_as_alone():
  models = [_dummy_model(rotation_invariant=True), _dummy_model(rotation_invariant=False)]
  images = _images(count=5)
  reads = []

  def batches():  # a one-pass stream that counts what is read
    for start in (0, 3):
      reads.append(start)
      yield {"image": images[start:start + 3], "file_name": np.array([b"x"] * len(images[start:start + 3]), object)}
  together = predict_models(models, batches(), tta_modes=(False, True))
  assert reads == [0, 3]
  for model, result in zip(models, together, strict=True):
    alone = predict_dataset(model, [{"image": images[:3], "file_name": np.array([b"x"] * 3, object)},
                                    {"image": images[3:], "file_name": np.array([b"x"] * 2, object)}], (False, True))
    for key in ("probability", "probability_tta"):
      np.testing.assert_allclose(result[key], alone[key], atol=1e-6)
    assert list(result["file_name"]) == [b"x"] * 5
  assert not np.allclose(together[0]["probability"], together[1]["probability"])


def test_model_resolution_errors(tmp_path):
  with pytest.raises(EvaluationError, match="exactly one"):
    resolve_model(None, None)
  with pytest.raises(EvaluationError, match="exactly one"):
    resolve_model("a.keras", str(tmp_path))
  with pytest.raises(EvaluationError, match="missing.keras: no such file"):
    resolve_model(str(tmp_path / "missing.keras"), None)
  (tmp_path / "notes.txt").write_text("")
  with pytest.raises(EvaluationError, match="not a .keras file"):
    resolve_model(str(tmp_path / "notes.txt"), None)
  with pytest.raises(EvaluationError, match="neither best.keras nor model.keras"):
    resolve_model(None, str(tmp_path))
  with pytest.raises(EvaluationError, match="does-not-exist: no such folder"):
    resolve_model(None, str(tmp_path / "does-not-exist"))
  with pytest.raises(EvaluationError, match="it is a file, not a run folder"):
    resolve_model(None, str(tmp_path / "notes.txt"))
  (tmp_path / layout.FINAL_MODEL).write_bytes(b"")
  assert resolve_model(None, str(tmp_path)).endswith(layout.FINAL_MODEL)
  (tmp_path / layout.BEST_MODEL).write_bytes(b"")
  assert resolve_model(None, str(tmp_path)).endswith(layout.BEST_MODEL)  # the best epoch wins


def test_a_damaged_or_foreign_model_is_refused(tmp_path):
  broken = tmp_path / "broken.keras"
  broken.write_bytes(b"not a zip")
  with pytest.raises(EvaluationError, match="is damaged: not a complete .keras archive"):
    load_classifier(str(broken))
  inputs = keras.Input((10,))
  foreign = tmp_path / "foreign.keras"
  keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(foreign)
  with pytest.raises(EvaluationError, match="expected \\(None, S, S, 3\\)"):
    load_classifier(str(foreign))
