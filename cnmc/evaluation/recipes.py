"""The training recipe's features measured one at a time and together against the plain run (the runs'
settings are trainer.recipe.compared_recipes).

Every run is scored from its final model on a subject-disjoint split, per cell and per subject (each subject
called by the vote of its cells), and against the plain run of its seed on the same resampled subjects (a paired
95 % interval of the difference in weighted F1).
"""

import os

from cnmc_tfds.vocabulary import ALL, CLASS_NAMES
from cnmc.evaluation import scores, tricks
from cnmc.statistics import intervals
from cnmc.run_folder import layout, record

COLUMNS = {"cell_weighted_f1": "weighted F1 (cells)", "subject_weighted_f1": "weighted F1 (subjects)",
           "auc": "AUC", "training_seconds": "training s"}


def score_run(run_dir: str, builder, split: str, batch_size: int) -> tuple[dict, dict]:
  """The final model of run_dir on split: (its scores: weighted F1 per cell and per subject (vote), AUC, and the
  seconds its training steps took (from its history: validation and start-up left out), and "intervals": every
  score with its 95 % interval over subjects; its predictions)."""
  predicted = tricks.predict_split(os.path.join(run_dir, layout.FINAL_MODEL), builder, split, batch_size, tta=False)
  cells = scores.classification_scores(predicted["label"], predicted["probability"])
  subjects = scores.subject_scores(predicted["label"], predicted["probability"], predicted["subject_id"])["subjects"]
  is_all = lambda name: int(name == CLASS_NAMES[ALL])  # noqa: E731
  voted = scores.classification_scores([is_all(row["label"]) for row in subjects],
                                       [float(is_all(row["vote"])) for row in subjects])
  return ({"cell_weighted_f1": cells["weighted_f1"], "subject_weighted_f1": voted["weighted_f1"], "auc": cells["auc"],
           "training_seconds": training_seconds(run_dir),
           "intervals": intervals.method_intervals(predicted["label"], predicted["probability"],
                                                   predicted["subject_id"])}, predicted)


def against_plain(predicted: dict[str, dict], seed: int = 0) -> dict[str, dict | None]:
  """{run name: its weighted F1 minus the plain run's, with the paired 95 % interval over subjects} (None for
  the plain run itself, and for all when a class has fewer than two subjects)."""
  plain = predicted["plain"]
  found = {}
  for name, run in predicted.items():
    if list(run["file_name"]) != list(plain["file_name"]):
      raise ValueError(f"{name} was scored on other cells than plain")
    try:
      found[name] = None if name == "plain" else intervals.paired_difference(
          plain["label"], plain["probability"], run["probability"], plain["subject_id"], seed=seed)
    except intervals.TooFewSubjects:
      found[name] = None
  return found


def training_seconds(run_dir: str) -> float:
  """The time of the run's training steps, summed over its epochs."""
  return sum(row["train_seconds"] for row in record.read_history(run_dir))


def summarise(per_seed: list[dict[str, dict]], names: list[str]) -> dict[str, dict]:
  """{run name: {column: {"mean", "sd"}}} over seeds."""
  return scores.summarise_seeds(per_seed, names, COLUMNS)


def table(summary: dict[str, dict], labels: dict[str, str], apart: dict[str, str] | None = None) -> str:
  """Markdown: one row per recipe (its label), mean ± sd of each column over seeds, and in how many seeds its
  difference from plain is larger than the paired 95 % interval over subjects allows (if given)."""
  text = scores.mean_sd_table({labels[name]: values for name, values in summary.items()}, "recipe", COLUMNS,
                              digits={"training_seconds": 1})
  return intervals.with_apart_column(text, list(summary), apart, "plain") if apart else text
