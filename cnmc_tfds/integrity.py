"""A prepared dataset's files checked against its own record, so a damaged shard is named, not a traceback.

An interrupted copy or a full disk leaves a TFRecord shard cut short. `check_shard_sizes` finds that
before any work from file sizes alone (dataset_info.json records each split's payload bytes); damage
inside a file (its size intact) surfaces when the records are read, as TensorFlow's DataLossError,
which `damaged_dataset_error` turns into the same message after finding the file.
"""

import os

import tensorflow_datasets as tfds

from cnmc_tfds.cnmc.errors import DatasetError

_RECORD_FRAMING = 16  # bytes TFRecord adds to each record: its length (8) and two CRCs (4 + 4)
_opened: list = []  # the datasets this process opened, in order: where a DataLossError came from


def _shard_paths(builder: tfds.core.DatasetBuilder, split: str) -> list[str]:
  return [os.path.join(str(builder.data_dir), name) for name in builder.info.splits[split].filenames]


def rebuild_command(builder: tfds.core.DatasetBuilder) -> str:
  """The `tfds build` command that writes the dataset again, where it is."""
  config = builder.builder_config.name
  data_dir = os.path.dirname(os.path.dirname(os.path.dirname(str(builder.data_dir))))  # <data_dir>/cnmc/<config>/<v>
  manual = " --manual_dir=<your C-NMC 2019 folder>" if config == "real" else ""
  return f"tfds build cnmc/{config} --imports=cnmc_tfds --data_dir={data_dir}{manual} --overwrite"


def damaged_message(builder: tfds.core.DatasetBuilder, files: list[str], how: str) -> str:
  named = ", ".join(files) if files else f"a file in {builder.data_dir}"
  return (f"The dataset {builder.info.full_name} in {builder.data_dir} is damaged: {named} {how} (an "
          f"interrupted copy or a full disk does this). Rebuild it with\n  {rebuild_command(builder)}")


def check_shard_sizes(builder: tfds.core.DatasetBuilder) -> None:
  """Raises DatasetError naming the shards of any split whose files hold fewer bytes than recorded."""
  short = []
  for name, split in builder.info.splits.items():
    expected = int(split.num_bytes) + _RECORD_FRAMING * split.num_examples
    paths = _shard_paths(builder, name)
    sizes = {path: os.path.getsize(path) if os.path.exists(path) else -1 for path in paths}
    if int(split.num_bytes) and sum(max(0, size) for size in sizes.values()) != expected:
      short += [path for path, size in sizes.items() if size < 0] or find_unreadable(paths) or paths
  if short:
    raise DatasetError(damaged_message(builder, short, "is missing or not the size the dataset records"))


def find_unreadable(paths: list[str]) -> list[str]:
  """The TFRecord files among paths that cannot be read to the end (raw records, nothing decoded)."""
  import tensorflow as tf
  unreadable = []
  for path in paths:
    try:
      for _ in tf.data.TFRecordDataset(path, buffer_size=1 << 20):
        pass
    except (tf.errors.DataLossError, tf.errors.NotFoundError):
      unreadable.append(path)
  return unreadable


def checked(builder: tfds.core.DatasetBuilder) -> tfds.core.DatasetBuilder:
  """builder, once its shard sizes are checked; remembered for describe_data_loss."""
  check_shard_sizes(builder)
  _opened.append(builder)
  return builder


def describe_data_loss(error: Exception) -> str:
  """The one-line (plus command) message for a DataLossError met while reading: which dataset and file
  is damaged, and how to rebuild it (the datasets this process opened are read through to find it)."""
  for builder in _opened:
    paths = [path for split in builder.info.splits for path in _shard_paths(builder, split)]
    unreadable = find_unreadable(paths)
    if unreadable:
      return damaged_message(builder, unreadable, f"cannot be read ({_first_line(error)})")
  return f"A file could not be read: it is damaged or cut short ({_first_line(error)})."


def _first_line(error: Exception) -> str:
  text = getattr(error, "message", None) or str(error)
  return text.strip().splitlines()[0][:200]
