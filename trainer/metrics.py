"""The challenge's metric (weighted F1) and the clinical pair (sensitivity, specificity) for Keras.

Positive class = ALL (label 1), as the challenge scores. Predictions are probabilities of ALL,
thresholded at 0.5. The counts ignore sample weights on purpose: with class weights in the loss,
the metrics must still count images, as the challenge does.
"""

import keras
from keras import ops


def scores_from_counts(tp, fp, tn, fn) -> dict:
  """Weighted F1 (per-class F1 weighted by support), sensitivity (ALL recall), specificity (HEM recall)."""
  f1_all = ops.divide_no_nan(2 * tp, 2 * tp + fp + fn)
  f1_hem = ops.divide_no_nan(2 * tn, 2 * tn + fn + fp)
  support_all, support_hem = tp + fn, tn + fp
  return {
      "weighted_f1": ops.divide_no_nan(f1_all * support_all + f1_hem * support_hem, support_all + support_hem),
      "sensitivity": ops.divide_no_nan(tp, tp + fn),
      "specificity": ops.divide_no_nan(tn, tn + fp),
  }


class _ConfusionMetric(keras.metrics.Metric):
  """Accumulates the 2x2 confusion counts; subclasses say which score to report."""

  score = ""

  def __init__(self, name=None, threshold: float = 0.5, **kwargs):
    super().__init__(name=name or self.score, **kwargs)
    self.threshold = threshold
    self.counts = {k: self.add_variable(shape=(), initializer="zeros", name=k) for k in ("tp", "fp", "tn", "fn")}

  def update_state(self, y_true, y_pred, sample_weight=None):
    del sample_weight  # count images, whatever the loss weights (see the module docstring)
    actual = ops.cast(ops.reshape(ops.cast(y_true, "float32"), (-1,)) > 0.5, "float32")
    predicted = ops.cast(ops.reshape(y_pred, (-1,)) >= self.threshold, "float32")
    for name, value in (("tp", actual * predicted), ("fp", (1 - actual) * predicted),
                        ("tn", (1 - actual) * (1 - predicted)), ("fn", actual * (1 - predicted))):
      self.counts[name].assign_add(ops.sum(value))

  def count_values(self) -> dict[str, float]:
    """The confusion counts accumulated since the last reset: {"tp", "fp", "tn", "fn"}."""
    return {k: float(v.numpy()) for k, v in self.counts.items()}  # summed over replicas

  def result(self):
    return scores_from_counts(**{k: v.value for k, v in self.counts.items()})[self.score]

  def reset_state(self):
    for variable in self.counts.values():
      variable.assign(0.0)

  def get_config(self):
    return {**super().get_config(), "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="cnmc")
class WeightedF1(_ConfusionMetric):
  score = "weighted_f1"


@keras.saving.register_keras_serializable(package="cnmc")
class Sensitivity(_ConfusionMetric):
  score = "sensitivity"


@keras.saving.register_keras_serializable(package="cnmc")
class Specificity(_ConfusionMetric):
  score = "specificity"


def training_metrics() -> list:
  """What fit reports each epoch, for training and validation alike."""
  return [keras.metrics.BinaryAccuracy(name="accuracy"), WeightedF1(), keras.metrics.AUC(name="auc"),
          Sensitivity(), Specificity()]
