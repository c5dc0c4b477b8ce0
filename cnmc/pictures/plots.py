"""matplotlib figures as pictures (uint8 RGB arrays), drawn without a screen, for a PNG and a TensorBoard image."""

import matplotlib

matplotlib.use("Agg")  # no screen needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def square_figure():
  """(figure, axes) of a 500 x 500 px plot."""
  return plt.subplots(figsize=(5, 5), dpi=100)


def pixels(figure) -> np.ndarray:
  """The figure drawn, (H, W, 3) uint8; the figure is closed."""
  figure.tight_layout()
  figure.canvas.draw()
  picture = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
  plt.close(figure)
  return picture
