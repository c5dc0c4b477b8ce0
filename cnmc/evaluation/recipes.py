"""The training recipe's features measured one at a time and together against the plain run.

Each recipe is the plain run's trainer flags plus its own; every run is scored from its final model on a
subject-disjoint split, per cell and per subject (each subject called by the vote of its cells).
"""

import os

from cnmc_tfds.vocabulary import ALL, CLASS_NAMES
from cnmc.evaluation import scores, tricks
from cnmc.run_folder import layout, record

COLUMNS = {"cell_weighted_f1": "weighted F1 (cells)", "subject_weighted_f1": "weighted F1 (subjects)",
           "auc": "AUC", "training_seconds": "training s"}


def recipes(batch_size: int, steps_per_epoch: int) -> dict[str, tuple[str, list[str]]]:
  """{run name: (row label, trainer flags added to the plain run's)} for the plain run's batch and steps
  per epoch (0: a whole pass).

  Accumulation halves the batch and doubles the steps: the same images per epoch and the same effective
  batch as the plain run, in half the memory. Warm-up lasts the first epoch (50 steps when an epoch is a
  whole pass of unknown length).
  """
  steps = steps_per_epoch
  accumulation = ["--accumulation_steps=2", f"--batch_size={max(1, batch_size // 2)}",
                  *([f"--steps_per_epoch={2 * steps}"] if steps else [])]
  features = {
      "ema": ("+ EMA 0.99", ["--ema_decay=0.99"]),
      "label_smoothing": ("+ label smoothing 0.1", ["--label_smoothing=0.1"]),
      "warmup": ("+ warm-up (1 epoch)", [f"--warmup_steps={steps or 50}"]),
      "clipping": ("+ clipping to norm 1", ["--clipnorm=1.0"]),
      "accumulation": ("+ accumulation 2 x half batch", accumulation),
      "mixup": ("+ mixup 0.2", ["--mixup_alpha=0.2"]),
      "cutmix": ("+ cutmix 1.0", ["--cutmix_alpha=1.0"]),
  }
  everything = [flag for _, flags in features.values() for flag in flags]
  return {"plain": ("plain", []), **features, "all": ("all together", everything)}


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
