"""Which data a model is evaluated on: by default the very dataset its training run used."""

import os

import tensorflow_datasets as tfds

import cnmc_tfds  # noqa: F401  (registers cnmc)
from evaluation.errors import EvaluationError
from trainer.data import load_builder
from trainer.errors import TrainerError


def dataset_builder(run_config: dict, dataset: str | None, data_dir: str | None) -> tfds.core.DatasetBuilder:
  """--dataset if given (built first if it is synthetic and missing); else the run's own dataset,
  read from the folder its config.json names (so custom configs and data dirs just work)."""
  if not dataset:
    prepared = run_config.get("dataset", {}).get("data_dir")
    if prepared and os.path.isdir(prepared):
      return tfds.builder_from_directory(prepared)
    dataset = "cnmc/synthetic"
  try:
    return load_builder(dataset, data_dir)
  except TrainerError as error:
    raise EvaluationError(str(error)) from None


def check_split(builder, split: str, labelled: bool) -> None:
  """The split exists (and, for evaluation, has labels)."""
  known = sorted(builder.info.splits)
  base = split.split("[")[0]
  if base not in known:
    raise EvaluationError(f"--split={split}: {builder.info.full_name} has the splits {', '.join(known)}.")
  if labelled and base == "test":
    raise EvaluationError("--split=test is the unlabelled final test set: nothing to score. Evaluate on "
                          "validation (or a fold); write test predictions with `python -m tools.predict`.")
