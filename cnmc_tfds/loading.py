"""Finding the `cnmc` dataset a user names, building it first when that is possible."""

import contextlib
import os
import shutil

import tensorflow_datasets as tfds
from absl import logging

from cnmc_tfds import integrity
from cnmc_tfds.cnmc import cnmc_dataset_builder  # noqa: F401  (registers "cnmc" with TFDS)
from cnmc_tfds.cnmc.errors import DatasetError
from cnmc.storage import locks


def load_builder(dataset: str, data_dir: str | None = None, manual_dir: str | None = None) -> tfds.core.DatasetBuilder:
  """The dataset's builder, built first if needed (synthetic: drawn here; real: from manual_dir).

  Args:
    dataset: a TFDS name/config such as "cnmc/real", or the folder of a prepared dataset
      (<data_dir>/cnmc/<config>/<version>), e.g. a custom synthetic config.
    data_dir: TFDS data folder (default: TFDS_DATA_DIR or ~/tensorflow_datasets).
    manual_dir: the user's C-NMC 2019 download, needed to build cnmc/real.
  Returns:
    A prepared tfds DatasetBuilder, its files checked (integrity.checked).
  Raises:
    DatasetError: unknown name, the real dataset is not built and no manual_dir was given, or its files
      are damaged.
  """
  return integrity.checked(_prepared_builder(dataset, data_dir, manual_dir))


def _prepared_builder(dataset: str, data_dir: str | None, manual_dir: str | None) -> tfds.core.DatasetBuilder:
  if os.path.isfile(os.path.join(dataset, "dataset_info.json")):
    return tfds.builder_from_directory(dataset)
  if os.path.isdir(dataset):
    raise DatasetError(f"--dataset={dataset}: a folder, but not a prepared dataset (it has no dataset_info.json). "
                       "Pass the folder of a built dataset (<data_dir>/cnmc/<config>/<version>) or a name such as "
                       "cnmc/synthetic or cnmc/real.")
  try:
    builder = tfds.builder(dataset, data_dir=data_dir)
  except (tfds.core.registered.DatasetNotFoundError, ValueError) as error:
    raise DatasetError(f"--dataset={dataset!r}: {error}".split("\n")[0] + " Use cnmc/synthetic, "
                       "cnmc/synthetic_full, cnmc/real or the folder of a prepared dataset.") from None
  if builder.is_prepared():
    return builder
  if not getattr(builder.builder_config, "synthetic", False) and not manual_dir:
    raise DatasetError(
        f"The dataset {dataset} is not built in {builder.data_dir}. Build it from your download with\n"
        f"  tfds build {dataset} --imports=cnmc_tfds --manual_dir=<your C-NMC 2019 folder>"
        + (f" --data_dir={data_dir}" if data_dir else "") +
        "\nor pass --manual_dir=<your C-NMC 2019 folder> here to build it first.")
  # Two processes asking for the same unbuilt dataset: the second waits for the first, then reads.
  lock = os.path.join(os.path.dirname(str(builder.data_dir)), ".build.lock")
  with _removed_if_it_fails(_folders_a_build_makes(str(builder.data_dir))):
    with locks.ProcessLock(lock, wait=True, what="dataset build",
                           on_wait=lambda holder: logging.warning("Waiting for another build of %s (%s) ...",
                                                                  dataset, holder)):
      builder = tfds.builder(dataset, data_dir=data_dir)
      if builder.is_prepared():
        return builder
      builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
      return builder


def _folders_a_build_makes(version_dir: str) -> list[str]:
  """What a build creates around <data_dir>/cnmc/<config>/<version>, innermost first: its config folder (and
  lock), TFDS' .config and downloads folders, and the data dir itself."""
  config_dir = os.path.dirname(version_dir)
  dataset_dir = os.path.dirname(config_dir)
  root = os.path.dirname(dataset_dir)
  downloads = os.path.join(root, "downloads")
  return [config_dir, os.path.join(dataset_dir, ".config"), dataset_dir, os.path.join(downloads, "extracted"),
          downloads, root]


@contextlib.contextmanager
def _removed_if_it_fails(folders: list[str]):
  """A build that fails leaves nothing behind: the folders in `folders` that did not exist before it are removed
  (innermost first), so no half-made dataset folder or stale lock looks like a build."""
  new = [folder for folder in folders if not os.path.exists(folder)]
  try:
    yield
  except BaseException:
    for folder in new:
      shutil.rmtree(folder, ignore_errors=True)
    raise
