"""The leaderboard's tricks measured against the plain model, with nothing tuned on the scored split.

For one seed: models trained on two folds; the neighbourhood correction's k and weight are chosen on
the third (held-out training) fold; every method is then scored on the subject-disjoint scored split.
"""

import itertools


from cnmc.evaluation import ensembles, inference, neighbours, scores, sources
from cnmc.statistics import intervals

NEIGHBOUR_GRID = {"k": (3, 5, 10, 20), "weight": (0.25, 0.5, 0.75)}
METHODS = ("single model", "+ TTA", "ensemble of 2 seeds", "ensemble + TTA", "ensemble + TTA + neighbours",
           "optical density input", "stain-normalised input")
SCORES = ("weighted_f1", "auc", "accuracy", "subject_vote")  # the table's columns, in order


def predict_split(model_path: str, builder, split: str, batch_size: int, tta: bool) -> dict:
  """P(ALL) (and with TTA), features, labels and subjects of every image of split, for one model file."""
  model, image_size = inference.load_classifier(model_path)
  batches, _ = sources.split_batches(builder, split, image_size, batch_size, metadata=("subject_id", "file_name"))
  return inference.predict_dataset(model, batches, (False, True) if tta else (False,), features=True)


def choose_neighbours(predicted: list[dict]) -> dict:
  """The (k, weight) of the grid with the best weighted F1 of the corrected TTA'd ensemble on a labelled
  split that is not the one to be scored; ties go to the smaller k and weight."""
  labels = predicted[0]["label"]
  base = ensembles.combine(predicted, tta=True, neighbour_k=0, neighbour_weight=0.0)["ensemble_tta"]
  embedding = neighbours.joint_embedding([p["features"] for p in predicted])
  best = None
  for k, weight in itertools.product(NEIGHBOUR_GRID["k"], NEIGHBOUR_GRID["weight"]):
    f1 = scores.classification_scores(labels, neighbours.correct(base, embedding, k, weight))["weighted_f1"]
    if best is None or f1 > best["weighted_f1"] + 1e-12:
      best = {"k": k, "weight": weight, "weighted_f1": f1}
  return best


def score_methods(ensemble: list[dict], optical_density: dict, stain_normalised: dict, k: int, weight: float
                  ) -> dict[str, dict]:
  """Each method's scores on the scored split: {method: {"weighted_f1", "auc", "accuracy", "subject_vote",
  "intervals": each with its 95 % interval over subjects, "vs_single": its weighted F1 minus the single model's with
  the paired interval over the same resampled subjects (None for the single model, or with too few subjects)}}.

  ensemble: the two rgb models' aligned predictions (the first is "single model").
  """
  columns = ensembles.combine(ensemble, tta=True, neighbour_k=k, neighbour_weight=weight)
  probabilities = {
      "single model": columns["member_1"], "+ TTA": columns["member_1_tta"],
      "ensemble of 2 seeds": columns["ensemble"], "ensemble + TTA": columns["ensemble_tta"],
      "ensemble + TTA + neighbours": columns["neighbours"],
      "optical density input": optical_density["probability"],
      "stain-normalised input": stain_normalised["probability"]}
  single = ensemble[0]
  results = {}
  for method, p in probabilities.items():
    source = {"optical density input": optical_density, "stain-normalised input": stain_normalised}.get(
        method, single)
    if list(source["file_name"]) != list(single["file_name"]):
      raise ValueError(f"{method} was scored on other cells than the single model")
    cell = scores.classification_scores(source["label"], p)
    vote = scores.subject_scores(source["label"], p, source["subject_id"])["vote_accuracy"]
    try:
      paired = None if method == "single model" else intervals.paired_difference(
          single["label"], probabilities["single model"], p, single["subject_id"])
    except intervals.TooFewSubjects:
      paired = None
    results[method] = {"weighted_f1": cell["weighted_f1"], "auc": cell["auc"], "accuracy": cell["accuracy"],
                       "subject_vote": vote, "vs_single": paired,
                       "intervals": intervals.method_intervals(source["label"], p, source["subject_id"])}
  return results


def summarise(per_seed: list[dict[str, dict]]) -> dict[str, dict]:
  """{method: {score: {"mean", "sd"}}} over seeds (sample sd)."""
  return scores.summarise_seeds(per_seed, METHODS, SCORES)


def table(summary: dict[str, dict], per_seed: list[dict[str, dict]] | None = None) -> str:
  """Markdown: one row per method, mean ± sd of each score over seeds, and (given the per-seed results) in how many
  seeds its weighted F1 differs from the single model's beyond the paired 95 % interval over subjects."""
  text = scores.mean_sd_table(summary, "method", dict(zip(SCORES, ("weighted F1", "AUC", "accuracy", "subject vote"),
                                                          strict=True)))
  if not per_seed:
    return text
  names = list(summary)
  return intervals.with_apart_column(text, names, intervals.apart_counts(per_seed, names, "vs_single"), "single model")
