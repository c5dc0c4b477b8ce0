"""Writes `dummy_data/`: two tiny downloads, one per layout, for the builder tests.

  python -m cnmc_tfds.cnmc.make_dummy_data

The images are flat-coloured discs (they compress to almost nothing in git); what matters here
is names, folders, sizes and the labels CSV. dummy_data/README.md says what each file exercises.
"""

import csv

import numpy as np
from etils import epath
from PIL import Image

from cnmc_tfds.cnmc import layout

DUMMY_DATA = epath.Path(__file__).parent / "dummy_data"

TRAINING = {  # fold -> names; "h2" and "H3"/"h3" exercise the lowercase subject prefix
    0: ["all/UID_1_1_1_all.bmp", "all/UID_1_2_1_all.bmp", "hem/UID_H1_1_1_hem.bmp"],
    1: ["all/UID_2_1_1_all.bmp", "hem/UID_h2_1_1_hem.bmp"],
    2: ["all/UID_3_1_1_all.bmp", "hem/UID_H3_5_2_hem.bmp", "hem/UID_h3_6_1_hem.bmp"],
}
PRELIM = [("UID_4_1_1_all.bmp", "1.bmp", 1), ("UID_H4_1_1_hem.bmp", "2.bmp", 0),
          ("UID_h5_2_1_hem.bmp", "3.bmp", 0)]
FINAL = {"1.bmp": 450, "2.bmp": 600}  # 2.bmp was released at 600x600 and must be centre-cropped
# OS clutter that the reader must skip.
JUNK = ["training_data/fold_0/hem/.DS_Store", "training_data/fold_2/hem/._UID_H3_5_2_hem.bmp",
        "testing_data/C-NMC_test_final_phase_data/Thumbs.db"]


def cell_disc(index: int, size: int = 450) -> np.ndarray:
  """A flat pale disc with a darker nucleus on black, its colour set by index; (size, size, 3)."""
  yy, xx = np.mgrid[0:size, 0:size] - size / 2
  radius = np.hypot(yy, xx)
  image = np.zeros((size, size, 3), np.uint8)
  image[radius < 90] = (200, 180 - 10 * index, 230)
  image[radius < 60] = (120, 60 + 10 * index, 170)
  return image


def _write_bmp(path: epath.Path, image: np.ndarray) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open("wb") as f:
    Image.fromarray(image).save(f, format="BMP")


def write_download(training: epath.Path, prelim_images: epath.Path, prelim_labels: epath.Path,
                   final_images: epath.Path) -> None:
  """Writes every part of a tiny download at the given places."""
  index = 0
  for fold, names in TRAINING.items():
    for name in names:
      _write_bmp(training / f"fold_{fold}" / name, cell_disc(index))
      index += 1
  for _, new_name, _ in PRELIM:
    _write_bmp(prelim_images / new_name, cell_disc(index))
    index += 1
  with prelim_labels.open("w") as f:
    csv.writer(f).writerows([("Patient_ID", "new_names", "labels"), *PRELIM])
  for name, size in FINAL.items():
    _write_bmp(final_images / name, cell_disc(index, size))
    index += 1


def main() -> None:
  kaggle = DUMMY_DATA / "kaggle" / layout.KAGGLE_ROOT
  write_download(kaggle / "training_data", kaggle / "validation_data" / layout.PRELIM_DIR,
                 kaggle / "validation_data" / layout.PRELIM_LABELS,
                 kaggle / "testing_data" / layout.FINAL_DIR)
  for junk in JUNK:
    (kaggle / junk).write_bytes(b"\x00junk")
  tcia = DUMMY_DATA / "tcia"
  write_download(tcia / "C-NMC_training_data", tcia / layout.PRELIM_DIR, tcia / layout.PRELIM_LABELS,
                 tcia / layout.FINAL_DIR)


if __name__ == "__main__":
  main()
