"""The `cnmc` dataset: C-NMC 2019 leukemia (ALL) vs normal (HEM) single-cell images.

  tfds build cnmc/synthetic --imports=cnmc_tfds                         # no download needed
  tfds build cnmc/real --imports=cnmc_tfds --manual_dir=~/C-NMC_Leukemia  # your download
"""

import csv
import dataclasses
import io
import json
import sys
from collections.abc import Iterator

import numpy as np
from absl import logging
from etils import epath
import tensorflow_datasets as tfds
import tqdm

from cnmc_tfds.cnmc import layout, synthetic_tree
from cnmc_tfds.cnmc.cell_images import read_cell_image
from cnmc_tfds.cnmc.errors import DatasetError
from cnmc_tfds.vocabulary import IMAGE_SIZE, TEST_SPLIT, VALIDATION_SPLIT
from cnmc_tfds.cnmc.filenames import (CLASS_NAMES, UNLABELED, CellName, is_junk, parse_cell_name,
                                      parse_numbered_name)

_HOMEPAGE = "https://doi.org/10.7937/tcia.2019.dc64i46r"
_LABEL_COLUMNS = ("Patient_ID", "new_names", "labels")
_NO_FOLD = -1


@dataclasses.dataclass
class CnmcConfig(tfds.core.BuilderConfig):
  """`synthetic` configs generate their own download; the scales multiply the real counts."""
  synthetic: bool = False
  images_scale: float = 1.0
  subjects_scale: float = 1.0
  seed: int = 2019
  plant_share: float = 0.0  # planted faults for the audit (synthetic_tree.plant_faults)


def _cell(image_path: epath.Path, *, label: int, subject_id: str = "", fold: int = _NO_FOLD,
          image_index: int = -1, cell_index: int = -1, original_name: str = "") -> dict:
  """An example's fields but the image, which is read only when the example is written."""
  return {
      "image": image_path,
      "label": label,
      "subject_id": subject_id,
      "fold": fold,
      "image_index": image_index,
      "cell_index": cell_index,
      "file_name": image_path.name,
      "original_name": original_name,
  }


def _image_files(folder: epath.Path) -> list[epath.Path]:
  """The files of a folder that are not OS clutter, sorted; a subfolder is an error."""
  files = []
  for path in sorted(folder.iterdir()):
    if is_junk(path.name):
      continue
    if not path.name.lower().endswith(".bmp") and path.is_dir():  # a stat only where it may be a folder
      raise DatasetError(f"Unexpected folder '{path}' among the images of '{folder}'. Move it out of the download.")
    files.append(path)
  return files


def _training_files(fold_dir: epath.Path) -> list[tuple[epath.Path, CellName]]:
  """(path, parsed name) of every cell of a fold; checks each name and its class folder."""
  files = []
  for class_dir in layout.CLASS_DIRS:
    folder = fold_dir / class_dir
    for path in _image_files(folder):
      try:
        cell = parse_cell_name(path.name)
      except DatasetError as error:
        raise DatasetError(f"In '{folder}': {error}") from None
      if CLASS_NAMES[cell.label] != class_dir:
        raise DatasetError(f"'{path}' is labelled {CLASS_NAMES[cell.label]!r} by its name "
                           f"but sits in {class_dir!r}/.")
      files.append((path, cell))
  return files


def _prelim_rows(parts: layout.DownloadParts) -> list[dict]:
  """The labels CSV, checked against the image folder: every row's file exists and vice versa."""
  text = parts.prelim_labels.read_bytes().decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a BOM
  reader = csv.DictReader(io.StringIO(text))
  if not reader.fieldnames or not set(_LABEL_COLUMNS) <= set(reader.fieldnames):
    raise DatasetError(f"'{parts.prelim_labels}' must have the header {','.join(_LABEL_COLUMNS)}; "
                       f"it has {reader.fieldnames}.")
  rows = list(reader)
  images = {path.name for path in _image_files(parts.prelim_images)}
  for line, row in enumerate(rows, start=2):
    where = f"'{parts.prelim_labels}' line {line}"
    if row["new_names"] not in images:
      raise DatasetError(f"{where} names {row['new_names']!r}, which is not in '{parts.prelim_images}'.")
    if row["labels"] not in ("0", "1"):
      raise DatasetError(f"{where} has the label {row['labels']!r}; labels are 1 (ALL) or 0 (HEM).")
    try:
      parse_cell_name(row["Patient_ID"])
    except DatasetError as error:
      raise DatasetError(f"{where}: {error}") from None
  unlabeled = sorted(images - {row["new_names"] for row in rows}, key=parse_numbered_name)
  if unlabeled:
    raise DatasetError(f"{len(unlabeled)} image(s) in '{parts.prelim_images}' have no row in "
                       f"'{parts.prelim_labels}', e.g. {unlabeled[:5]}. Is the labels file from the same download?")
  return rows


def _warn_about_shared_subjects(splits: dict[str, list[dict]]) -> None:
  """The download's folds and preliminary set are subject-disjoint; say so loudly if not."""
  subjects = {split: {c["subject_id"] for c in cells} for split, cells in splits.items() if split != TEST_SPLIT}
  names = sorted(subjects)
  for i, a in enumerate(names):
    for b in names[i + 1:]:
      if shared := subjects[a] & subjects[b]:
        logging.warning("Subjects %s appear in both %s and %s: evaluation across these splits "
                        "would leak patients.", sorted(shared), a, b)


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for C-NMC 2019."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: folds, preliminary (validation) and final (test) sets."}
  BUILDER_CONFIGS = [
      CnmcConfig(name="real", description="The C-NMC 2019 download (manual download, TCIA licence)."),
      CnmcConfig(name="synthetic", synthetic=True, images_scale=0.05, subjects_scale=0.25,
                 description="Procedural C-NMC-shaped cells, about 750 images: builds in about half a minute."),
      CnmcConfig(name="synthetic_full", synthetic=True,
                 description="Procedural cells at the real dataset's counts (about 15,000 images)."),
      CnmcConfig(name="synthetic_planted", synthetic=True, images_scale=0.05, subjects_scale=0.25, plant_share=0.04,
                 description="`synthetic` with planted faults, listed in planted.json beside its download: 4% of "
                             "the training cells drawn as the other class, 2% copied into another subject and "
                             "fold, 1% blank, noise or cut in half. The audit's test bed."),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = layout.INSTRUCTIONS

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), encoding_format="png",
                                         doc="One segmented cell on black, RGB."),
            "label": tfds.features.ClassLabel(
                names=list(CLASS_NAMES), doc="1 = ALL (blast), 0 = HEM (normal); -1 = unlabeled (test)."),
            "subject_id": tfds.features.Text(doc="Normalised subject: '11' (ALL), 'H10' (HEM); '' in test."),
            "fold": tfds.features.Scalar(np.int32, doc="Training fold 0-2; -1 outside the folds."),
            "image_index": tfds.features.Scalar(np.int32, doc="Microscope image number from the name; -1 if unknown."),
            "cell_index": tfds.features.Scalar(np.int32, doc="Cell number within the image; -1 if unknown."),
            "file_name": tfds.features.Text(doc="The file's name in the download, e.g. '17.bmp'."),
            "original_name": tfds.features.Text(doc="The UID_ name (from the labels CSV for validation); '' in test."),
            "cropped": tfds.features.Scalar(np.bool_, doc="Centre-cropped from 600x600 to 450x450."),
        }),
        supervised_keys=("image", "label"),
        homepage=_HOMEPAGE,
        metadata=tfds.core.MetadataDict(),  # synthetic_planted: its planted faults, read by tools.audit
    )

  def _log_download_bytes(self) -> None:  # tfds' line gives sizes it does not know ("Unknown size")
    print(f"Building {self.info.full_name} in {self.data_dir} (once) ...", flush=True)

  def _log_download_done(self) -> None:
    print(f"Built {self.info.full_name} in {self.data_dir}.", flush=True)

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = self._synthetic_download(dl_manager) if self.builder_config.synthetic else self._manual_dir(dl_manager)
    planted = root / layout.KAGGLE_ROOT / synthetic_tree.PLANTED
    if self.builder_config.synthetic and planted.exists():  # kept with the dataset: its readers know the plants
      self.info.metadata["planted"] = json.loads(planted.read_text())
    parts = layout.find_parts(root)
    if parts.skipped_metadata:
      logging.warning("Skipped %d macOS metadata files (a __MACOSX/ folder, ._* files) in %s: not images.",
                      parts.skipped_metadata, root)
    # Check every name and label row before the slow part, so mistakes surface in seconds.
    folds = {fold: _training_files(parts.folds[fold]) for fold in layout.FOLDS}
    prelim = _prelim_rows(parts)
    final = _image_files(parts.final_images)
    for path in final:
      parse_numbered_name(path.name)
    splits = {f"fold_{fold}": [_cell(path, label=c.label, subject_id=c.subject_id, fold=fold,
                                     image_index=c.image_index, cell_index=c.cell_index,
                                     original_name=path.name) for path, c in files]
              for fold, files in folds.items()}
    splits[VALIDATION_SPLIT] = [
        _cell(parts.prelim_images / row["new_names"], label=int(row["labels"]),
              subject_id=c.subject_id, image_index=c.image_index, cell_index=c.cell_index,
              original_name=row["Patient_ID"])
        for row in prelim for c in [parse_cell_name(row["Patient_ID"])]]
    splits[TEST_SPLIT] = [_cell(path, label=UNLABELED) for path in final]
    _warn_about_shared_subjects(splits)
    return {split: self._generate_examples(cells) for split, cells in splits.items()}

  def _manual_dir(self, dl_manager) -> epath.Path:
    try:
      return dl_manager.manual_dir
    except AssertionError as error:  # tfds' words for a missing or empty --manual_dir
      raise DatasetError(str(error)) from None  # it already names the folder and gives the instructions

  def synthetic_download_path(self, download_dir: epath.PathLike) -> epath.Path:
    """Where a synthetic config writes (and reuses) its BMP download: <root>/C-NMC_Leukemia/..."""
    config = self.builder_config
    return epath.Path(download_dir) / "cnmc_synthetic" / f"{config.name}_seed{config.seed}_v{self.VERSION}"

  def _synthetic_download(self, dl_manager) -> epath.Path:
    config = self.builder_config
    root = self.synthetic_download_path(dl_manager.download_dir)
    with tqdm.tqdm(desc="Drawing synthetic cells", unit=" images", mininterval=1.0,
                   disable=None if sys.stderr.isatty() else True) as bar:  # no redrawn bar in a log file
      def progress(done, total):
        bar.total = total
        bar.update(done - bar.n)
      synthetic_tree.write_tree(root, images_scale=config.images_scale, subjects_scale=config.subjects_scale,
                                seed=config.seed, progress=progress, plant_share=config.plant_share)
    return root

  def _generate_examples(self, cells: list[dict]) -> Iterator[tuple[str, dict]]:
    """Reads, checks and (if 600x600) crops each image; the key is the file's name."""
    for cell in cells:
      image, cropped = read_cell_image(cell["image"])
      yield cell["file_name"], {**cell, "image": image, "cropped": cropped}
