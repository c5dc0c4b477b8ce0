"""The training recipe's features measured one at a time and together against the plain run (the runs'
settings are trainer.recipe.compared_recipes).

Every run is scored from its final model on a
subject-disjoint split, per cell and per subject (each subject called by the vote of its cells).
"""

import os

from cnmc_tfds.vocabulary import ALL, CLASS_NAMES
from cnmc.evaluation import scores, tricks
from cnmc.run_folder import layout, record

COLUMNS = {"cell_weighted_f1": "weighted F1 (cells)", "subject_weighted_f1": "weighted F1 (subjects)",
           "auc": "AUC", "training_seconds": "training s"}


def score_run(run_dir: str, builder, split: str, batch_size: int) -> dict:
  """The final model of run_dir on split: weighted F1 per cell and per subject (vote), AUC, and the seconds
  its training steps took (from its history: validation and start-up left out)."""
  predicted = tricks.predict_split(os.path.join(run_dir, layout.FINAL_MODEL), builder, split, batch_size, tta=False)
  cells = scores.classification_scores(predicted["label"], predicted["probability"])
  subjects = scores.subject_scores(predicted["label"], predicted["probability"], predicted["subject_id"])["subjects"]
  is_all = lambda name: int(name == CLASS_NAMES[ALL])  # noqa: E731
  voted = scores.classification_scores([is_all(row["label"]) for row in subjects],
                                       [float(is_all(row["vote"])) for row in subjects])
  return {"cell_weighted_f1": cells["weighted_f1"], "subject_weighted_f1": voted["weighted_f1"], "auc": cells["auc"],
          "training_seconds": training_seconds(run_dir)}


def training_seconds(run_dir: str) -> float:
  """The time of the run's training steps, summed over its epochs."""
  return sum(row["train_seconds"] for row in record.read_history(run_dir))


def summarise(per_seed: list[dict[str, dict]], names: list[str]) -> dict[str, dict]:
  """{run name: {column: {"mean", "sd"}}} over seeds."""
  return scores.summarise_seeds(per_seed, names, COLUMNS)


def table(summary: dict[str, dict], labels: dict[str, str]) -> str:
  """Markdown: one row per recipe (its label), mean ± sd of each column."""
  return scores.mean_sd_table({labels[name]: values for name, values in summary.items()}, "recipe", COLUMNS,
                              digits={"training_seconds": 1})
