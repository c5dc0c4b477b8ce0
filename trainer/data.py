"""The trainer's view of the data: check the splits, make the train and val inputs."""

import csv
import io

import tensorflow as tf
from absl import logging

from cnmc_tfds.vocabulary import ALL, HEM, reads_test, unknown_splits
from pipeline.input_pipeline import batches_per_pass, make_eval_dataset, make_train_dataset, split_index
from trainer.config import TrainConfig
from trainer.errors import TrainerError


def excluded_cells(config: TrainConfig) -> frozenset[str]:
  """The cell names --exclude lists: one per line, or the file_name column of a CSV (tools.audit's)."""
  if not config.exclude:
    return frozenset()
  try:
    with open(config.exclude, newline="") as f:
      text = f.read()
  except OSError as error:
    raise TrainerError(f"--exclude={config.exclude}: cannot read it ({error.strerror or error}).") from None
  except UnicodeDecodeError:
    raise TrainerError(f"--exclude={config.exclude}: not a text file. Pass a list of cell file names, one per "
                       "line, or a CSV with a file_name column (such as tools.audit's label_issues.csv).") from None
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  if lines and "," in lines[0]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "file_name" not in rows[0]:
      raise TrainerError(f"--exclude={config.exclude}: a CSV needs a file_name column (tools.audit's CSVs have one).")
    return frozenset(row["file_name"].strip() for row in rows if row["file_name"].strip())
  return frozenset(lines)


def check_splits(builder, config: TrainConfig, exclude: frozenset[str] = frozenset()) -> dict[int, int]:
  """Training and validation splits exist, are labelled, hold both classes and share no image; shared
  subjects are allowed (the leakage demonstration needs them) but warned about loudly. The cells in
  `exclude` are left out of the training splits (never out of the validation split).

  Returns the training split's label counts {HEM: n, ALL: n}.
  """
  known = set(builder.info.splits)
  for split in (*config.train_splits, config.val_split):
    for base in unknown_splits(split, known):
      raise TrainerError(f"The split {base!r} is not in {config.dataset} (it has {', '.join(sorted(known))}).")
  if any(reads_test(split) for split in (*config.train_splits, config.val_split)):
    raise TrainerError("The 'test' split is unlabelled (the challenge's final set): train and validate on "
                       "fold_0..fold_2 and validation.")
  if config.val_split in config.train_splits:
    raise TrainerError(f"--val_split={config.val_split} is also in --train_splits: its subjects would be "
                       "on both sides.")
  logging.info("Checking the splits: counting labels, subjects and files ...")
  indexes = {}  # one pass over each split's records
  for flag, split in (("--train_splits", train_split(config)), ("--val_split", config.val_split)):
    try:
      indexes[flag] = split_index(builder, split)
    except (ValueError, KeyError, AssertionError) as error:
      raise TrainerError(f"{flag}={split}: not a split expression of {config.dataset} ({error}).") from None
  trained, validated = indexes["--train_splits"].without(exclude), indexes["--val_split"]
  for flag, split, index in (("--train_splits", train_split(config), trained), ("--val_split", config.val_split,
                                                                                 validated)):
    counts = index.label_counts()
    if min(counts.values()) == 0:
      raise TrainerError(f"{flag}={split} holds {counts[HEM]} HEM and {counts[ALL]} ALL images: training and "
                         "validation need images of both classes. Check the split expression (slices such as "
                         "fold_0[:10] may cut a class out).")
  if exclude:
    all_train_files = indexes["--train_splits"].file_set()
    unknown = exclude - all_train_files
    print(f"--exclude: {len(exclude & all_train_files)} cells left out of training.", flush=True)
    if unknown:
      logging.warning("%d of the %d cells --exclude lists are not in --train_splits (e.g. %s): they are not trained "
                      "on anyway, and validation and scoring sets are never filtered.", len(unknown), len(exclude),
                      sorted(unknown)[0])
  train_subjects, train_files = trained.subject_set(), trained.file_set()
  val_subjects, val_files = validated.subject_set(), validated.file_set()
  if train_files & val_files:
    raise TrainerError(f"--train_splits and --val_split share {len(train_files & val_files)} images (e.g. "
                       f"{sorted(train_files & val_files)[0]}): a model would be scored on images it trained on.")
  shared = train_subjects & val_subjects
  if shared:
    logging.warning("%d of the %d validation subjects also have images in training (%s): the validation "
                    "scores will be optimistic, as in a random image-level split. Split by subject (the folds) "
                    "for honest numbers.", len(shared), len(val_subjects), ", ".join(sorted(shared)[:5]))
  return trained.label_counts()


def train_split(config: TrainConfig) -> str:
  return "+".join(config.train_splits)


def steps_per_epoch(config: TrainConfig, counts: dict[int, int]) -> int:
  """--steps_per_epoch, or the updates (of --batch_size x --accumulation_steps images) of one pass over the
  training split."""
  return config.steps_per_epoch or batches_per_pass(counts, config.effective_batch_size)


def train_input(builder, config: TrainConfig, image_size: int, strategy: tf.distribute.Strategy,
                counts: dict[int, int], skip_batches: int = 0, exclude: frozenset[str] = frozenset()):
  """The training batches, one input pipeline per worker under a strategy.

  The cells of --exclude (`exclude`) are left out. Each phase reads this stream from its start (a function
  of --seed); a run resumed inside a phase skips the batches its finished epochs took (skip_batches), so
  that with --deterministic it trains on exactly what the uninterrupted run would have.
  With --balance=class_weight the batches carry per-example loss weights, (images, labels, weights),
  made in the pipeline: Keras' fit(class_weight=) cannot apply them to a distributed dataset.
  """
  def dataset_fn(input_context=None):
    return make_train_dataset(builder, train_split(config), image_size=image_size,
                              batch_size=config.effective_batch_size,  # the train step splits it into micro-batches
                              balance=config.balance, seed=config.seed, deterministic=config.deterministic,
                              input_context=input_context, class_counts=counts, skip_batches=skip_batches,
                              exclude=exclude).dataset

  if strategy.num_replicas_in_sync > 1 or isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return strategy.distribute_datasets_from_function(dataset_fn)
  return dataset_fn()


def val_input(builder, config: TrainConfig, image_size: int) -> tf.data.Dataset:
  """The validation batches, --validation_steps of them if set (every image of the split if 0), read once
  here so that their in-memory cache is complete before `fit` starts. Keras' first evaluation reads a batch
  from one iterator (to build the metrics) and starts a second while the first may still be filling the
  cache; epoch 1 was then now and then validated on other images than the later epochs (suspected cause of
  the open bug in BUILD.md, "Tests")."""
  dataset = make_eval_dataset(builder, config.val_split, image_size=image_size, batch_size=config.batch_size,
                              max_batches=config.validation_steps or None)
  for _ in dataset:  # the first pass decodes (as epoch 1's validation would) and completes the cache
    pass
  return dataset


def validated_images(builder, config: TrainConfig) -> tuple[int, int]:
  """(images each validation pass reads, images of the validation split): fewer with --validation_steps."""
  total = builder.info.splits[config.val_split].num_examples
  return (min(total, config.validation_steps * config.batch_size) if config.validation_steps else total), total


def validation_cells(builder, config: TrainConfig, image_size: int):
  """The cells each validation pass reads, once, with their subjects: batches of {"image", "label", "subject_id"}."""
  return make_eval_dataset(builder, config.val_split, image_size=image_size, batch_size=config.batch_size,
                           max_batches=config.validation_steps or None, metadata=("subject_id",), cache=None)


def sample_images(builder, config: TrainConfig, image_size: int, count: int = 8):
  """A few validation images, (count, S, S, 3) uint8, and their (count,) labels, read without filling any cache."""
  dataset = make_eval_dataset(builder, config.val_split, image_size=image_size, batch_size=count, cache=None)
  images, labels = next(iter(dataset))
  return images.numpy(), labels.numpy()
