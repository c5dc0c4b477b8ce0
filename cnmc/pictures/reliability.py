"""The reliability diagram as a picture (uint8 RGB array), for a PNG and a TensorBoard image alike."""

import numpy as np

from cnmc.pictures import plots


def reliability_picture(tables: dict[str, dict], title: str) -> np.ndarray:
  """One curve per entry (e.g. before and after temperature scaling): each bin's share of ALL cells against its
  mean P(ALL), marker area by its cells; the diagonal is perfect calibration.

  tables: {name: {"cells", "mean_probability", "share_all"} (lists, one entry per non-empty bin), "ece"}.
  Returns (H, W, 3) uint8.
  """
  figure, axes = plots.square_figure()
  axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
  for name, table in tables.items():
    cells = np.asarray(table["cells"], np.float64)
    axes.plot(table["mean_probability"], table["share_all"], marker="o", markersize=3,
              label=f"{name} (ECE {table['ece']:.3f})")
    axes.scatter(table["mean_probability"], table["share_all"], s=400 * cells / cells.sum(), alpha=0.3)
  axes.set(xlabel="mean P(ALL) in the bin", ylabel="share of ALL cells in the bin", title=title, xlim=(0, 1),
           ylim=(0, 1.01), aspect="equal")
  axes.legend(loc="upper left")
  return plots.pixels(figure)
