"""Writes a synthetic download: the Kaggle mirror's tree of BMP files and the labels CSV.

The synthetic config builds from this tree with the same reader as the real download, so every
code path the real data takes is exercised without it. Counts scale the real ones (the per-fold, per-class
image and subject counts below, from the dataset's description on TCIA).
"""

import csv
import dataclasses
from collections.abc import Callable, Iterator

import numpy as np
from etils import epath
from PIL import Image

from cnmc_tfds.cnmc import layout
from cnmc_tfds.cnmc.filenames import cell_file_name
from cnmc_tfds.cnmc.synthetic_cells import draw_subject_style, render_cell
from cnmc_tfds.vocabulary import ALL, CLASS_NAMES, HEM, IMAGE_SIZE

# (ALL images, HEM images) and (ALL subjects, HEM subjects) of the real download.
_REAL_FOLD_IMAGES = {0: (2397, 1130), 1: (2418, 1163), 2: (2457, 1096)}
_REAL_TRAIN_SUBJECTS = (47, 26)
_REAL_PRELIM_IMAGES, _REAL_PRELIM_SUBJECTS = (1219, 648), (13, 15)
# The final set's labels are unpublished; assume the preliminary set's class mix.
_REAL_FINAL_IMAGES, _REAL_FINAL_SUBJECTS = (1688, 898), (9, 8)
_FINAL_PADDED_EVERY = 3  # every third final-phase image is written at 600x600, as some real ones are
_PADDED_SIZE = 600


@dataclasses.dataclass(frozen=True)
class SyntheticCell:
  """One image to write: which subject, which class, and its place in the tree."""
  part: str  # "fold_0".."fold_2", "prelim" or "final"
  subject_id: str  # as spelled in the file name (a few healthy subjects use a lowercase "h")
  label: int
  image_index: int
  cell_index: int
  seed: int


def _scaled(count: int, scale: float, minimum: int) -> int:
  return max(minimum, int(round(count * scale)))


def _split_images(rng: np.random.Generator, n_images: int, n_subjects: int) -> list[int]:
  """Shares n_images among subjects as unevenly as the real data does (at least 3 each)."""
  n_images = max(n_images, 3 * n_subjects)
  weights = rng.lognormal(0.0, 0.8, n_subjects)
  counts = 3 + np.floor(weights / weights.sum() * (n_images - 3 * n_subjects)).astype(int)
  counts[np.argmax(weights)] += n_images - counts.sum()
  return counts.tolist()


def plan_cells(images_scale: float, subjects_scale: float, seed: int) -> list[SyntheticCell]:
  """Every image of the synthetic download, subject-disjoint across all parts."""
  rng = np.random.default_rng(seed)
  parts = {}
  for fold, (n_all, n_hem) in _REAL_FOLD_IMAGES.items():
    parts[f"fold_{fold}"] = ((n_all, n_hem), (_REAL_TRAIN_SUBJECTS[0] // 3, _REAL_TRAIN_SUBJECTS[1] // 3))
  parts["prelim"] = (_REAL_PRELIM_IMAGES, _REAL_PRELIM_SUBJECTS)
  parts["final"] = (_REAL_FINAL_IMAGES, _REAL_FINAL_SUBJECTS)

  cells, next_subject = [], {ALL: 1, HEM: 1}
  for part, (images, subjects) in parts.items():
    for label in (ALL, HEM):
      n_subjects = _scaled(subjects[label == HEM], subjects_scale, minimum=2)
      counts = _split_images(rng, _scaled(images[label == HEM], images_scale, 0), n_subjects)
      for count in counts:
        number = next_subject[label]
        next_subject[label] += 1
        subject = str(number) if label == ALL else ("h" if number % 4 == 0 else "H") + str(number)
        image_index, cell_index = 1, 1
        for _ in range(count):
          cells.append(SyntheticCell(part, subject, label, image_index, cell_index,
                                     seed=int(rng.integers(2**31))))
          # Several cells may come from one microscope image.
          if rng.uniform() < 0.6:
            image_index, cell_index = image_index + 1, 1
          else:
            cell_index += 1
  return cells


def _subject_style(seed: int, subject_id: str):
  """A subject's style depends only on the tree's seed and the subject, not on file order."""
  key = [seed] + [ord(c) for c in subject_id.upper()]
  return draw_subject_style(np.random.default_rng(key))


def _numbered(cells: list[SyntheticCell], part: str, seed: int) -> Iterator[tuple[int, SyntheticCell]]:
  """The test sets are numbered 1..n in an order that hides subject and class."""
  part_cells = [c for c in cells if c.part == part]
  order = np.random.default_rng([seed, *part.encode()]).permutation(len(part_cells))
  for number, index in enumerate(order, start=1):
    yield number, part_cells[index]


def _write_bmp(path: epath.Path, image: np.ndarray) -> None:
  with path.open("wb") as f:
    Image.fromarray(image).save(f, format="BMP")


def _render(cell: SyntheticCell, seed: int) -> np.ndarray:
  return render_cell(np.random.default_rng(cell.seed), cell.label, _subject_style(seed, cell.subject_id))


def write_tree(root: epath.PathLike, *, images_scale: float, subjects_scale: float, seed: int,
               progress: Callable[[int, int], None] | None = None) -> epath.Path:
  """Writes the synthetic download under `root` (Kaggle layout) unless it is already complete.

  Returns the path of the `C-NMC_Leukemia` folder. The tree is written beside `root` first and
  renamed when complete, so an interrupted run never leaves a tree that looks finished.
  """
  root = epath.Path(root)
  dataset_root = root / layout.KAGGLE_ROOT
  if dataset_root.is_dir():
    return dataset_root
  cells = plan_cells(images_scale, subjects_scale, seed)
  staging = root.parent / (root.name + ".incomplete")
  if staging.exists():
    staging.rmtree()
  base = staging / layout.KAGGLE_ROOT
  written = 0

  def write(path: epath.Path, image: np.ndarray) -> None:
    nonlocal written
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_bmp(path, image)
    written += 1
    if progress:
      progress(written, len(cells))

  for cell in (c for c in cells if c.part.startswith("fold_")):
    name = cell_file_name(cell.subject_id, cell.image_index, cell.cell_index, cell.label)
    write(base / "training_data" / cell.part / CLASS_NAMES[cell.label] / name, _render(cell, seed))

  rows = []
  for number, cell in _numbered(cells, "prelim", seed):
    write(base / "validation_data" / layout.PRELIM_DIR / f"{number}.bmp", _render(cell, seed))
    rows.append([cell_file_name(cell.subject_id, cell.image_index, cell.cell_index, cell.label),
                 f"{number}.bmp", cell.label])
  with (base / "validation_data" / layout.PRELIM_LABELS).open("w") as f:
    csv.writer(f).writerows([["Patient_ID", "new_names", "labels"], *rows])

  for number, cell in _numbered(cells, "final", seed):
    image = _render(cell, seed)
    if number % _FINAL_PADDED_EVERY == 0:
      pad = (_PADDED_SIZE - IMAGE_SIZE) // 2
      image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    write(base / "testing_data" / layout.FINAL_DIR / f"{number}.bmp", image)

  root.mkdir(parents=True, exist_ok=True)
  base.rename(dataset_root)
  staging.rmtree()
  return dataset_root
