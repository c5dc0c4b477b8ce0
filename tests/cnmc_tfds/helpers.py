"""Building the dataset into a temporary folder, and reading it back."""

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from cnmc_tfds.cnmc import cnmc_dataset_builder

DUMMY_DATA = epath.Path(cnmc_dataset_builder.__file__).parent / "dummy_data"


def build(data_dir, config="real", manual_dir=None) -> tfds.core.DatasetBuilder:
  """Builds `cnmc/<config>` into data_dir (from manual_dir for the real config)."""
  builder = cnmc_dataset_builder.Builder(config=config, data_dir=str(data_dir))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(manual_dir) if manual_dir else None))
  return builder


def examples(builder, split: str) -> list[dict]:
  """Every example of a split as numpy, in file-name order."""
  rows = list(tfds.as_numpy(builder.as_dataset(split=split)))
  for row in rows:
    for key in ("file_name", "original_name", "subject_id"):
      row[key] = row[key].decode()
  return sorted(rows, key=lambda r: r["file_name"])


def subjects_by_split(builder) -> dict[str, set]:
  """Split name -> the set of subject ids in it (unlabeled test excluded: its subjects are unknown)."""
  return {split: {r["subject_id"] for r in examples(builder, split)}
          for split in builder.info.splits if split != "test"}


def assert_subject_disjoint(builder) -> None:
  subjects = subjects_by_split(builder)
  splits = sorted(subjects)
  for i, a in enumerate(splits):
    for b in splits[i + 1:]:
      assert not subjects[a] & subjects[b], f"subjects {subjects[a] & subjects[b]} are in {a} and {b}"


def pixels_equal(a: np.ndarray, b: np.ndarray) -> bool:
  return a.shape == b.shape and bool(np.array_equal(a, b))


# A synthetic config small enough to build in seconds (~150 images), shared by many tests.
TINY = dict(images_scale=0.005, subjects_scale=0.05, seed=7)


def build_tiny_synthetic(data_dir) -> tfds.core.DatasetBuilder:
  config = cnmc_dataset_builder.CnmcConfig(name="synthetic_tiny", synthetic=True, **TINY)
  return build(data_dir, config=config)
