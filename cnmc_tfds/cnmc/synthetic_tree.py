"""Writes a synthetic download: the Kaggle mirror's tree of BMP files and the labels CSV.

The synthetic config builds from this tree with the same reader as the real download, so every
code path the real data takes is exercised without it. Counts scale the real ones (the per-fold, per-class
image and subject counts below, from the dataset's description on TCIA).
"""

import csv
import dataclasses
import json
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
  # Planted faults (the audit's test bed): drawn as the other class; drawn in another subject's style (a
  # copy of that subject's cell); or not a cell at all ("blank", "noise", "half").
  drawn_label: int | None = None
  style_subject: str | None = None
  garbage: str = ""


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
  label = cell.label if cell.drawn_label is None else cell.drawn_label
  style = _subject_style(seed, cell.style_subject or cell.subject_id)
  image = render_cell(np.random.default_rng(cell.seed), label, style)
  if cell.garbage == "blank":
    return np.zeros_like(image)
  if cell.garbage == "noise":
    return np.random.default_rng(cell.seed).integers(0, 256, image.shape, dtype=np.uint8)
  if cell.garbage == "half":  # a segmentation that cut the cell in two
    image = image.copy()
    image[:, image.shape[1] // 2:] = 0
  return image


GARBAGE_KINDS = ("blank", "noise", "half")
PLANTED = "planted.json"  # beside the tree: which files carry which planted fault


def plant_faults(cells: list[SyntheticCell], share: float, seed: int) -> tuple[list[SyntheticCell], dict]:
  """Plants faults among the training folds' cells: `share` of them drawn as the other class (a label
  error), share/2 copied into a subject of the same class in another fold (a leak), share/4 replaced by
  garbage. Returns the cells and {"flipped": [file], "duplicates": [[original, copy]], "garbage": [file]}."""
  rng = np.random.default_rng([seed, 7])
  training = [i for i, c in enumerate(cells) if c.part.startswith("fold_")]
  n_flip, n_copy, n_garbage = (max(2, int(round(len(training) * f))) for f in (share, share / 2, share / 4))
  chosen = rng.permutation(training)[:n_flip + n_copy + n_garbage].tolist()
  flip, copy, garbage = chosen[:n_flip], chosen[n_flip:n_flip + n_copy], chosen[n_flip + n_copy:]
  cells = list(cells)
  for i in flip:
    cells[i] = dataclasses.replace(cells[i], drawn_label=1 - cells[i].label)
  for n, i in enumerate(garbage):
    cells[i] = dataclasses.replace(cells[i], garbage=GARBAGE_KINDS[n % len(GARBAGE_KINDS)])
  duplicates = []
  for i in copy:
    original = cells[i]
    hosts = sorted({(c.part, c.subject_id) for c in cells if c.part.startswith("fold_") and c.part != original.part
                    and c.label == original.label})
    part, subject = hosts[int(rng.integers(len(hosts)))]
    index = 1000 + len(duplicates)  # image numbers no real cell of the subject has
    cells.append(dataclasses.replace(original, part=part, subject_id=subject, image_index=index, cell_index=1,
                                     style_subject=original.style_subject or original.subject_id))
    duplicates.append([_file_name(original), _file_name(cells[-1])])
  return cells, {"flipped": [_file_name(cells[i]) for i in flip], "duplicates": duplicates,
                 "garbage": [_file_name(cells[i]) for i in garbage]}


def _file_name(cell: SyntheticCell) -> str:
  return cell_file_name(cell.subject_id, cell.image_index, cell.cell_index, cell.label)


def write_tree(root: epath.PathLike, *, images_scale: float, subjects_scale: float, seed: int,
               progress: Callable[[int, int], None] | None = None, plant_share: float = 0.0) -> epath.Path:
  """Writes the synthetic download under `root` (Kaggle layout) unless it is already complete.

  Returns the path of the `C-NMC_Leukemia` folder. The tree is written beside `root` first and
  renamed when complete, so an interrupted run never leaves a tree that looks finished. With
  plant_share, faults are planted (plant_faults) and listed in <C-NMC_Leukemia>/planted.json.
  """
  root = epath.Path(root)
  dataset_root = root / layout.KAGGLE_ROOT
  if dataset_root.is_dir():
    return dataset_root
  cells = plan_cells(images_scale, subjects_scale, seed)
  planted = None
  if plant_share:
    cells, planted = plant_faults(cells, plant_share, seed)
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
    write(base / "training_data" / cell.part / CLASS_NAMES[cell.label] / _file_name(cell), _render(cell, seed))
  if planted is not None:
    (base / PLANTED).write_text(json.dumps(planted, indent=1))

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
