"""Which data a model is evaluated on: exactly the dataset its training run used, or the one named.

Nothing is substituted: a run whose dataset folder has moved is an error naming the dataset, the
folder it looked in and the flag that points elsewhere.
"""

import os

import tensorflow_datasets as tfds

from cnmc_tfds.loading import load_builder
from cnmc_tfds.vocabulary import reads_test, unknown_splits
from cnmc.evaluation.errors import EvaluationError
from cnmc.run_folder import layout, record


def dataset_builder(run: record.RunRecord | None, dataset: str | None,
                    data_dir: str | None) -> tfds.core.DatasetBuilder:
  """The data a model is evaluated on.

  Args:
    run: the record of the model's training run (None if it has none).
    dataset: --dataset: a TFDS name/config or a prepared folder (built first if synthetic and missing).
    data_dir: --data_dir for a named dataset.
  Returns:
    --dataset's builder if given, else the run's own dataset, read from the folder its config.json
    names (so custom configs and data dirs just work).
  Raises:
    EvaluationError: no --dataset and no run config, or the run's dataset folder is gone.
    DatasetError: --dataset cannot be found or built.
  """
  if dataset:
    return load_builder(dataset, data_dir)
  if run is None or not run.dataset_name:
    raise EvaluationError(f"Which dataset? The model has no training run's {layout.CONFIG} beside it to say. Pass "
                          "--dataset (e.g. cnmc/real, or the folder of a prepared dataset).")
  prepared = run.dataset_folder
  if not os.path.isfile(os.path.join(prepared, "dataset_info.json")):
    raise EvaluationError(f"The model was trained on {run.dataset_name} {run.dataset.get('version')}, read from "
                          f"{prepared}, which is not there any more. Pass --dataset=<the folder it moved to> (or "
                          f"--dataset={run.dataset_name} --data_dir=<its data dir>).")
  return load_builder(prepared)


def split_batches(builder, split: str, image_size: int, batch_size: int, metadata: tuple[str, ...]):
  """Every image of `split` once, in its order, resized for the model and not cached.

  Returns:
    (tf.data.Dataset of {"image": (B, S, S, 3) uint8, "label", *metadata}, number of images)
  """
  from pipeline.input_pipeline import make_eval_dataset  # imports TensorFlow
  batches = make_eval_dataset(builder, split, image_size=image_size, batch_size=batch_size, cache=None,
                              metadata=metadata)
  return batches, builder.info.splits[split].num_examples


def check_split(builder, split: str, labelled: bool) -> None:
  """The split exists (and, for evaluation, has labels)."""
  known = sorted(builder.info.splits)
  if unknown_splits(split, known):
    raise EvaluationError(f"--split={split}: {builder.info.full_name} has the splits {', '.join(known)}.")
  if labelled and reads_test(split):
    raise EvaluationError("--split=test is the unlabelled final test set: nothing to score. Evaluate on "
                          "validation (or a fold); write test predictions with `python -m tools.predict`.")
