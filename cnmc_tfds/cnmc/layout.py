"""Finds the parts of a C-NMC 2019 download by name, whatever the nesting of the unpacked archive.

Two layouts are common: the Kaggle mirror (`C-NMC_Leukemia/training_data/fold_*`,
`validation_data/...`, `testing_data/...`) and TCIA's parts unpacked side by side
(`C-NMC_training_data/fold_*`, `C-NMC_test_prelim_phase_data/`, ...). Both are found the same way.
"""

import collections
import dataclasses

from etils import epath

from cnmc_tfds.cnmc.errors import DatasetError
from cnmc_tfds.cnmc.filenames import is_junk

KAGGLE_ROOT = "C-NMC_Leukemia"
PRELIM_DIR = "C-NMC_test_prelim_phase_data"
PRELIM_LABELS = "C-NMC_test_prelim_phase_data_labels.csv"
FINAL_DIR = "C-NMC_test_final_phase_data"
FOLDS = (0, 1, 2)
CLASS_DIRS = ("all", "hem")
_MAX_DEPTH = 5  # deep enough for an extra wrapper folder or two around either layout
MACOS_METADATA_DIR = "__macosx"  # macOS' unzip leaves AppleDouble `._*` twins of every file here

INSTRUCTIONS = """\
Download C-NMC 2019 yourself (TCIA licence): from TCIA
(https://doi.org/10.7937/tcia.2019.dc64i46r: the training data, the preliminary test data, its
labels CSV and the final test data) or from the Kaggle mirror ("C-NMC_Leukemia"). Unpack
everything into one folder and pass that folder as --manual_dir. Either layout is found:

  <manual_dir>/C-NMC_Leukemia/training_data/fold_0|fold_1|fold_2/{all,hem}/*.bmp
  <manual_dir>/C-NMC_Leukemia/validation_data/C-NMC_test_prelim_phase_data/1.bmp ...
  <manual_dir>/C-NMC_Leukemia/validation_data/C-NMC_test_prelim_phase_data_labels.csv
  <manual_dir>/C-NMC_Leukemia/testing_data/C-NMC_test_final_phase_data/1.bmp ...
or
  <manual_dir>/C-NMC_training_data/fold_0|fold_1|fold_2/{all,hem}/*.bmp
  <manual_dir>/C-NMC_test_prelim_phase_data/1.bmp ...
  <manual_dir>/C-NMC_test_prelim_phase_data_labels.csv
  <manual_dir>/C-NMC_test_final_phase_data/1.bmp ...
"""


@dataclasses.dataclass(frozen=True)
class DownloadParts:
  """Where each part of the download is."""
  folds: dict[int, epath.Path]  # fold number -> folder holding all/ and hem/
  prelim_images: epath.Path
  prelim_labels: epath.Path
  final_images: epath.Path
  skipped_metadata: int = 0  # macOS AppleDouble files (`__MACOSX/`, `._*`) passed over


def _has_bmp(folder: epath.Path) -> bool:
  return any(p.name.lower().endswith(".bmp") and not is_junk(p.name) for p in folder.iterdir())


def _subdirs(folder: epath.Path) -> dict[str, epath.Path]:
  """Lower-cased name -> path of each subfolder."""
  return {p.name.lower(): p for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir()}


def _count_files(folder: epath.Path) -> int:
  """Files below folder, at any depth (epath has no recursive glob on every file system)."""
  count, queue = 0, [folder]
  while queue:
    for entry in queue.pop().iterdir():
      if entry.is_dir():
        queue.append(entry)
      else:
        count += 1
  return count


def _walk(root: epath.Path) -> tuple[list[epath.Path], list[epath.Path], int]:
  """Folders below root (breadth first, bounded depth, not into image folders), files seen, and the
  number of macOS metadata files passed over."""
  folders, files, skipped = [], [], 0
  queue = collections.deque([(root, 0)])
  while queue:
    folder, depth = queue.popleft()
    folders.append(folder)
    for entry in sorted(folder.iterdir()):
      if entry.name.lower() == MACOS_METADATA_DIR and entry.is_dir():
        skipped += _count_files(entry)  # not a second copy of the download: metadata only
        continue
      if entry.name.startswith("._"):
        skipped += 1
        continue
      if entry.name.startswith(".") or is_junk(entry.name) or entry.name.lower().endswith(".bmp"):
        continue  # an image folder's thousands of files are not worth a stat each
      if not entry.is_dir():
        files.append(entry)
      elif depth < _MAX_DEPTH and entry.name.lower() not in CLASS_DIRS:
        queue.append((entry, depth + 1))
  return folders, files, skipped


def _one(candidates: list[epath.Path], what: str) -> epath.Path | None:
  if len(candidates) > 1:
    listing = "\n  ".join(map(str, candidates))
    raise DatasetError(f"Found {what} more than once:\n  {listing}\n"
                       "Point --manual_dir at a folder that holds one copy of the download.")
  return candidates[0] if candidates else None


def find_parts(manual_dir: epath.PathLike) -> DownloadParts:
  """Locates the training folds, the preliminary test set with its labels and the final test set.

  Raises DatasetError naming every missing part and every folder searched.
  """
  manual_dir = epath.Path(manual_dir)
  if not manual_dir.is_dir():
    raise DatasetError(f"The manual download folder '{manual_dir}' does not exist.\n\n{INSTRUCTIONS}")
  folders, files, skipped = _walk(manual_dir)
  by_name = collections.defaultdict(list)
  for folder in folders:
    by_name[folder.name.lower()].append(folder)

  folds, missing = {}, []
  for fold in FOLDS:
    # A fold is a folder fold_<k> with all/ and hem/ inside (an outer wrapper of the same name is not).
    candidates = [f for f in by_name[f"fold_{fold}"] if set(CLASS_DIRS) & set(_subdirs(f))]
    found = _one(candidates, f"fold_{fold}")
    if found is None:
      missing.append(f"training fold folder 'fold_{fold}' with 'all' and 'hem' inside")
      continue
    for class_dir in CLASS_DIRS:
      path = _subdirs(found).get(class_dir)
      if path is None or not _has_bmp(path):
        missing.append(f"images in '{found / class_dir}' (the folder is missing or has no .bmp)")
    folds[fold] = found

  prelim = _one([f for f in by_name[PRELIM_DIR.lower()] if _has_bmp(f)], PRELIM_DIR)
  if prelim is None:
    missing.append(f"preliminary test images: a folder '{PRELIM_DIR}' holding 1.bmp, 2.bmp, ...")
  labels = _one([f for f in files if f.name.lower() == PRELIM_LABELS.lower()], PRELIM_LABELS)
  if labels is None:
    missing.append(f"the preliminary test labels file '{PRELIM_LABELS}'")
  final = _one([f for f in by_name[FINAL_DIR.lower()] if _has_bmp(f)], FINAL_DIR)
  if final is None:
    missing.append(f"final test images: a folder '{FINAL_DIR}' holding 1.bmp, 2.bmp, ...")

  if missing:
    message = [f"The C-NMC 2019 download under '{manual_dir}' is incomplete. Missing:"]
    message += [f"  - {m}" for m in missing]
    message += ["Looked in these folders:"] + [f"  {f}" for f in folders]
    archives = [f for f in files if f.name.lower().endswith((".zip", ".tar", ".tar.gz", ".tgz"))]
    if archives:
      message += ["These archives may hold the missing parts; unpack them here first:"]
      message += [f"  {a}" for a in archives]
    message += ["", INSTRUCTIONS]
    raise DatasetError("\n".join(message))
  image_folders = [*(folds[f] / c for f in FOLDS for c in CLASS_DIRS), prelim, final]
  skipped += sum(1 for folder in image_folders for p in folder.iterdir() if p.name.startswith("._"))
  return DownloadParts(folds=folds, prelim_images=prelim, prelim_labels=labels, final_images=final,
                       skipped_metadata=skipped)
