"""Flags of the tools that score cells, evaluate and predict: test-time augmentation and the
neighbourhood correction (gradcam explains one plain prediction and does not take them)."""

from absl import app, flags

from cnmc.evaluation.neighbours import DEFAULT_NEIGHBOURS, DEFAULT_WEIGHT

TTA = flags.DEFINE_bool("tta", False, "Test-time augmentation: average the 8 rotations/mirrors of each cell.")
NEIGHBOUR_CORRECTION = flags.DEFINE_bool(
    "neighbour_correction", False, "Also report/predict P(ALL) corrected by each cell's nearest neighbours among "
    "the cells being scored (after Pan et al.; uses no label, so it works on the unlabelled test set).")
NEIGHBOURS = flags.DEFINE_integer("neighbours", DEFAULT_NEIGHBOURS,
                                  "Neighbourhood correction: how many most similar cells vote (chosen on the "
                                  "training folds, BUILD.md).", lower_bound=1)
NEIGHBOUR_WEIGHT = flags.DEFINE_float("neighbour_weight", DEFAULT_WEIGHT,
                                      "Neighbourhood correction: the neighbours' share of a cell's corrected P(ALL).",
                                      lower_bound=0.0, upper_bound=1.0)


def neighbour_arguments() -> tuple[int, float]:
  """(k, weight) of the neighbourhood correction; k = 0 when it is off. Its settings without it are refused."""
  if not NEIGHBOUR_CORRECTION.value and (flags.FLAGS["neighbours"].present or flags.FLAGS["neighbour_weight"].present):
    raise app.UsageError("--neighbours and --neighbour_weight set the neighbourhood correction, which is off: "
                         "add --neighbour_correction (or leave them out).")
  return (NEIGHBOURS.value, NEIGHBOUR_WEIGHT.value) if NEIGHBOUR_CORRECTION.value else (0, 0.0)
