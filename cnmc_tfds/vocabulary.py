"""The C-NMC 2019 vocabulary, defined once: labels, split names, the stored image size, split expressions.

Everything else in the project (pipeline, trainer, evaluation, tools) imports these words; nothing
re-spells a fold list or a class name.
"""

import re

# Labels as the challenge scores them (and as the labels CSV writes them).
HEM, ALL = 0, 1
CLASS_NAMES = ("hem", "all")  # index = label
UNLABELED = -1  # the final test set's images

# Splits of the `cnmc` TFDS dataset.
FOLD_SPLITS = ("fold_0", "fold_1", "fold_2")  # the training folds, subject-disjoint
TRAIN_SPLIT = "+".join(FOLD_SPLITS)
VALIDATION_SPLIT = "validation"  # the labelled preliminary test set
TEST_SPLIT = "test"  # the unlabelled final test set

IMAGE_SIZE = 450  # pixels per side of every stored image (600x600 originals are centre-cropped)

# The test sets' file names: 1.bmp, 2.bmp, ... (line i of a submission is image i).
NUMBERED_IMAGE = re.compile(r"^(?P<number>\d+)\.(bmp|png)$", re.IGNORECASE)


def base_splits(expression: str) -> list[str]:
  """The splits a TFDS split expression reads: 'fold_0[:67%]+fold_1' -> ['fold_0', 'fold_1']."""
  return [part.split("[")[0].strip() for part in expression.split("+")]


def unknown_splits(expression: str, known) -> list[str]:
  """The splits a split expression reads that a dataset with the splits `known` does not have."""
  return [base for base in base_splits(expression) if base not in known]


def reads_test(expression: str) -> bool:
  """Whether a split expression reads the unlabelled final test split."""
  return TEST_SPLIT in base_splits(expression)


def image_number(name: str) -> int | None:
  """17 for '17.bmp' (or .png); None for a name that is not a number."""
  match = NUMBERED_IMAGE.match(name)
  return int(match.group("number")) if match else None


def file_order(names: list[str]) -> list[int]:
  """Indices that put file names in the split's order: 1.bmp, 2.bmp, ..., 10.bmp by number, others by name."""
  def key(i: int):
    number = image_number(names[i])
    return (0, number, "") if number is not None else (1, 0, names[i])
  return sorted(range(len(names)), key=key)
