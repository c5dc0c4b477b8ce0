"""Every private Keras name the code uses is still where it was (pyproject.toml pins the Keras minor tested;
BUILD.md "Private Keras names" says why each is used). A Keras release that moves one fails here, naming it."""

import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

# (module, dotted attribute, the code that uses it)
MODULE_NAMES = [
    ("keras.src.losses.loss", "unscale_loss_for_distribution", "trainer/model.py: the train step's loss"),
    ("keras.src.backend.tensorflow.trainer", "reduce_per_replica", "trainer/distributed/multi_worker.py"),
    ("keras.src.backend.tensorflow.trainer", "_collective_all_reduce_multi_worker",
     "trainer/distributed/multi_worker.py"),
    ("keras.src.backend.tensorflow.trainer", "TensorFlowTrainer._maybe_symbolic_build",
     "trainer/distributed/multi_worker.py"),
    ("keras.src.utils.file_utils", "get_file", "tests/trainer/test_weights.py (no network in the tests)"),
]


def moved(what: str, where: str) -> str:
  return (f"Keras {keras.__version__} has no {what}, which {where} uses: install the Keras pyproject.toml pins, or "
          "port that code and this list (BUILD.md, Private Keras names).")


@pytest.mark.parametrize("module, name, where", MODULE_NAMES, ids=[f"{m}.{n}" for m, n, _ in MODULE_NAMES])
def test_a_private_keras_name_the_code_uses_is_still_there(module, name, where):
  try:
    found = importlib.import_module(module)
    for part in name.split("."):
      found = getattr(found, part)
  except (ImportError, AttributeError):
    pytest.fail(moved(f"{module}.{name}", where))
  assert callable(found), moved(f"{module}.{name} as a function", where)


def test_the_private_attributes_of_keras_objects_the_code_uses_are_still_there():
  """Model._loss_tracker (trainer/model.py), an EMA optimizer's _trainable_variables and
  _model_variables_moving_average (trainer/averaging.py), an epoch iterator's data_adapter.get_tf_dataset
  (trainer/distributed/multi_worker.py), the TensorBoard callback's _writers (trainer/callbacks.py)."""
  model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
  model.compile(optimizer=keras.optimizers.Adam(use_ema=True), loss="mse")
  model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)
  assert hasattr(model, "_loss_tracker"), moved("Model._loss_tracker", "trainer/model.py")
  optimizer = model.optimizer
  for name in ("_trainable_variables", "_model_variables_moving_average"):
    assert len(getattr(optimizer, name, ())) == 2, moved(f"Optimizer.{name}", "trainer/averaging.py")
  board = keras.callbacks.TensorBoard(log_dir="/tmp/unused")
  assert isinstance(getattr(board, "_writers", None), dict), moved("TensorBoard._writers", "trainer/callbacks.py")
  from keras.src.trainers.epoch_iterator import EpochIterator
  iterator = EpochIterator(tf.data.Dataset.from_tensor_slices(np.zeros((4, 2))).batch(2))
  assert isinstance(iterator.data_adapter.get_tf_dataset(), tf.data.Dataset), \
      moved("EpochIterator.data_adapter.get_tf_dataset", "trainer/distributed/multi_worker.py")
