"""The ROC curve as a picture (uint8 RGB array), for a PNG and a TensorBoard image alike."""

import numpy as np
from sklearn import metrics

from cnmc.pictures import plots


def roc_picture(labels, probabilities_by_name: dict[str, np.ndarray], title: str) -> np.ndarray:
  """One ROC curve per entry (e.g. without and with TTA), AUC in the legend; (H, W, 3) uint8."""
  figure, axes = plots.square_figure()
  for name, probabilities in probabilities_by_name.items():
    false_positive_rate, true_positive_rate, _ = metrics.roc_curve(labels, probabilities, pos_label=1)
    auc = metrics.auc(false_positive_rate, true_positive_rate)
    axes.plot(false_positive_rate, true_positive_rate, label=f"{name} (AUC {auc:.3f})")
  axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
  axes.set(xlabel="1 - specificity (HEM called ALL)", ylabel="sensitivity (ALL called ALL)", title=title,
           xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
  axes.legend(loc="lower right")
  return plots.pixels(figure)
