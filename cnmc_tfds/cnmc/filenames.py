"""C-NMC 2019 file names: `UID_<subject>_<image>_<cell>_<all|hem>.bmp`.

Subjects are numbers for ALL patients and `H<number>` for healthy ones; some files spell the
prefix `h`, so the subject is normalised to upper case (`h10` and `H10` are one subject).
"""

import dataclasses
import re

from cnmc_tfds.cnmc.errors import DatasetError

from cnmc_tfds.vocabulary import ALL, CLASS_NAMES, HEM, NUMBERED_IMAGE, UNLABELED  # noqa: F401  (re-exported)

# Files that archive tools and file browsers leave behind.
_JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}

_CELL_NAME = re.compile(r"^UID_(?P<subject>[Hh]?\d+)_(?P<image>\d+)_(?P<cell>\d+)_(?P<cls>all|hem)\.bmp$",
                        re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class CellName:
  """What a training file name says about its cell."""
  subject_id: str  # normalised: "11", "H10"
  image_index: int
  cell_index: int
  label: int  # ALL or HEM


def is_junk(name: str) -> bool:
  """True for OS clutter (`.DS_Store`, `Thumbs.db`, AppleDouble `._*` files)."""
  return name.lower() in _JUNK_NAMES or name.startswith("._")


def normalise_subject(subject: str) -> str:
  """`h10` -> `H10`; numeric ALL subjects stay as they are."""
  return subject.upper()


def parse_cell_name(name: str) -> CellName:
  """Parses `UID_H10_43_1_hem.bmp`; raises DatasetError naming the file if it does not match."""
  match = _CELL_NAME.match(name)
  if not match:
    raise DatasetError(
        f"{name!r} is not a C-NMC cell file name (expected UID_<subject>_<image>_<cell>_<all|hem>.bmp, "
        "e.g. UID_11_10_1_all.bmp). Remove or rename it.")
  return CellName(
      subject_id=normalise_subject(match["subject"]),
      image_index=int(match["image"]),
      cell_index=int(match["cell"]),
      label=ALL if match["cls"].lower() == "all" else HEM,
  )


def parse_numbered_name(name: str) -> int:
  """`17.bmp` -> 17 (the preliminary and final test sets are numbered from 1)."""
  match = NUMBERED_IMAGE.match(name) if name.lower().endswith(".bmp") else None
  if not match or int(match["number"]) < 1:
    raise DatasetError(f"{name!r} is not a numbered test image name (expected <n>.bmp, n >= 1).")
  return int(match["number"])


def cell_file_name(subject_id: str, image_index: int, cell_index: int, label: int) -> str:
  """The inverse of parse_cell_name (keeps the subject's spelling as given)."""
  return f"UID_{subject_id}_{image_index}_{cell_index}_{CLASS_NAMES[label]}.bmp"
