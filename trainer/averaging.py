"""Weight EMA (--ema_decay): the model validated, kept as best.keras and exported is the moving average
of its weights, while training goes on with the raw weights.

The phase's optimizer keeps the averages (trainer/recipe.py) and saves them with its other variables in
every backup, so a resumed run continues the same averages. Here the model takes them in where they are
used: for each validation pass, while best.keras is written, and for the export. Each phase's optimizer
starts its averages from the weights as the phase begins. BatchNorm's moving statistics are not weights a
gradient trains, and are used as they are (as in Keras and timm).
"""

import contextlib

import keras


class AveragedWeights:
  """Swaps a compiled model's trainable weights with its optimizer's averages of them, exactly (a copy, not
  Keras' SwapEMAWeights arithmetic, whose a+b-b rounds the raw weights a little at every swap)."""

  def __init__(self, model: keras.Model):
    self.model = model

  def _pairs(self) -> list:
    optimizer = self.model.optimizer
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under a LossScaleOptimizer
    return [(variable, average) for variable, average in
            zip(optimizer._trainable_variables, optimizer._model_variables_moving_average, strict=True)
            if average is not None]

  def swap(self) -> None:
    for variable, average in self._pairs():
      raw = keras.ops.copy(variable)
      variable.assign(average)
      average.assign(raw)

  @contextlib.contextmanager
  def held(self):
    """The model holds the averages inside the block, its raw weights again after it."""
    self.swap()
    try:
      yield
    finally:
      self.swap()


class ValidateAveraged(keras.callbacks.Callback):
  """Every validation pass (and so the monitored score and the best epoch) sees the averaged weights."""

  def __init__(self, averaged: AveragedWeights):
    super().__init__()
    self.averaged = averaged

  def on_test_begin(self, logs=None):
    self.averaged.swap()

  def on_test_end(self, logs=None):
    self.averaged.swap()
