"""A damaged or incomplete download fails the build with a message naming the file, and leaves
no dataset behind that looks complete."""

import shutil

import numpy as np
import pytest
from PIL import Image

from cnmc_tfds.cnmc.errors import DatasetError
from cnmc_tfds.loading import load_builder
from tests.cnmc_tfds.helpers import DUMMY_DATA, build

KAGGLE = "C-NMC_Leukemia"
FOLD_0_ALL = f"{KAGGLE}/training_data/fold_0/all"
PRELIM = f"{KAGGLE}/validation_data/C-NMC_test_prelim_phase_data"
LABELS = f"{KAGGLE}/validation_data/C-NMC_test_prelim_phase_data_labels.csv"


@pytest.fixture
def download(tmp_path):
  """A writable copy of the Kaggle-layout fake download."""
  root = tmp_path / "download"
  shutil.copytree(DUMMY_DATA / "kaggle", root)
  return root


def build_fails(tmp_path, download, *patterns) -> str:
  """Builds, expects a DatasetError whose message matches every pattern, checks nothing is left."""
  data_dir = tmp_path / "data"
  with pytest.raises(DatasetError) as error:
    build(data_dir, manual_dir=download)
  for pattern in patterns:
    assert pattern in str(error.value), f"{pattern!r} not in:\n{error.value}"
  # tfds keeps builder metadata in cnmc/.config; no records, dataset info or version folder may stay.
  leftovers = [p for p in data_dir.rglob("*") if "tfrecord" in p.name or p.name == "dataset_info.json"]
  assert not leftovers, f"a failed build left {leftovers}"
  assert not any((data_dir / "cnmc" / "real").glob("1.0.0*"))
  # The way the commands build (the trainer, the tools): a failed build leaves no folder, lock or metadata at all.
  with pytest.raises(DatasetError):
    load_builder("cnmc/real", str(tmp_path / "commands"), str(download))
  assert not (tmp_path / "commands").exists()
  return str(error.value)


def test_a_failed_build_keeps_what_the_data_dir_held_and_removes_what_it_made(tmp_path):
  empty = tmp_path / "empty download"
  empty.mkdir()
  data_dir = tmp_path / "data"
  (data_dir / "cnmc" / "synthetic").mkdir(parents=True)  # another config's folder, already there
  with pytest.raises(DatasetError, match="C-NMC"):
    load_builder("cnmc/real", str(data_dir), str(empty))
  assert sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*")) == ["cnmc", "cnmc/synthetic"]


def test_missing_labels_csv_names_it_and_the_folders_searched(tmp_path, download):
  (download / LABELS).unlink()
  message = build_fails(tmp_path, download, "C-NMC_test_prelim_phase_data_labels.csv", "Looked in these folders")
  assert str(download / KAGGLE / "validation_data") in message


def test_missing_folds_are_all_listed(tmp_path, download):
  shutil.rmtree(download / KAGGLE / "training_data")
  build_fails(tmp_path, download, "'fold_0'", "'fold_1'", "'fold_2'")


def test_empty_class_folder_is_named(tmp_path, download):
  for path in (download / KAGGLE / "training_data/fold_1/hem").iterdir():
    path.unlink()
  build_fails(tmp_path, download, str(download / KAGGLE / "training_data/fold_1/hem"))


def test_truncated_image_is_named(tmp_path, download):
  path = download / FOLD_0_ALL / "UID_1_2_1_all.bmp"
  path.write_bytes(path.read_bytes()[:100_000])
  build_fails(tmp_path, download, str(path), "damaged")


def test_corrupt_image_is_named(tmp_path, download):
  path = download / PRELIM / "2.bmp"
  path.write_bytes(b"BM" + bytes(range(256)) * 10)
  build_fails(tmp_path, download, str(path))


def test_image_of_unexpected_size_is_named(tmp_path, download):
  path = download / FOLD_0_ALL / "UID_1_1_1_all.bmp"
  Image.fromarray(np.zeros((300, 300, 3), np.uint8)).save(path, format="BMP")
  build_fails(tmp_path, download, str(path), "300x300")


def test_csv_row_without_its_image_is_named(tmp_path, download):
  (download / PRELIM / "2.bmp").unlink()
  build_fails(tmp_path, download, "'2.bmp'", "line 3")


def test_image_without_a_csv_row_is_an_error(tmp_path, download):
  shutil.copy(download / PRELIM / "1.bmp", download / PRELIM / "4.bmp")
  build_fails(tmp_path, download, "4.bmp", "no row")


def test_csv_with_wrong_header_is_an_error(tmp_path, download):
  labels = download / LABELS
  labels.write_text(labels.read_text().replace("Patient_ID", "patient"))
  build_fails(tmp_path, download, "Patient_ID,new_names,labels")


def test_badly_named_training_file_is_named(tmp_path, download):
  shutil.copy(download / FOLD_0_ALL / "UID_1_1_1_all.bmp", download / FOLD_0_ALL / "IMG_0001.bmp")
  build_fails(tmp_path, download, "IMG_0001.bmp", "UID_<subject>_<image>_<cell>_<all|hem>.bmp")


def test_cell_in_the_wrong_class_folder_is_named(tmp_path, download):
  shutil.move(download / FOLD_0_ALL / "UID_1_2_1_all.bmp",
              download / KAGGLE / "training_data/fold_0/hem/UID_1_2_1_all.bmp")
  build_fails(tmp_path, download, "UID_1_2_1_all.bmp", "sits in 'hem'")


def test_two_copies_of_a_fold_are_ambiguous(tmp_path, download):
  shutil.copytree(download / KAGGLE / "training_data/fold_0", download / "extra_copy" / "fold_0")
  build_fails(tmp_path, download, "fold_0 more than once")


def test_missing_manual_dir_is_named(tmp_path):
  build_fails(tmp_path, tmp_path / "nowhere", str(tmp_path / "nowhere"))


def test_a_failure_late_in_the_build_removes_the_partial_dataset(tmp_path, download):
  # The final test split is written last; a damaged image there fails after other splits were written.
  path = download / KAGGLE / "testing_data/C-NMC_test_final_phase_data/2.bmp"
  path.write_bytes(path.read_bytes()[:5000])
  build_fails(tmp_path, download, str(path))


def test_a_subject_in_two_folds_is_warned_about(tmp_path, download, caplog):
  shutil.copy(download / FOLD_0_ALL / "UID_1_1_1_all.bmp",
              download / KAGGLE / "training_data/fold_1/all/UID_1_9_1_all.bmp")
  build(tmp_path / "data", manual_dir=download)
  assert "['1'] appear in both fold_0 and fold_1" in caplog.text


def as_a_mac_unpacks_it(download) -> int:
  """Adds what macOS' archive tools leave: an AppleDouble `._` twin of every file under __MACOSX/, and one
  beside the images; returns how many such files the download then holds."""
  files = [path for path in download.rglob("*") if path.is_file()]
  already = sum(path.name.startswith("._") for path in files)  # the fake download has one
  for path in files:
    twin = download / "__MACOSX" / path.relative_to(download).parent / f"._{path.name}"
    twin.parent.mkdir(parents=True, exist_ok=True)
    twin.write_bytes(b"\x00\x05\x16\x07AppleDouble")
  (download / FOLD_0_ALL / "._UID_1_1_1_all.bmp").write_bytes(b"\x00\x05\x16\x07AppleDouble")
  return len(files) + 1 + already


def as_a_spreadsheet_saves_it(labels) -> None:
  labels.write_bytes(b"\xef\xbb\xbf" + labels.read_bytes())  # "CSV UTF-8" starts with a byte-order mark


def test_a_download_unpacked_on_a_mac_with_labels_saved_by_a_spreadsheet_builds(tmp_path, download, caplog):
  skipped = as_a_mac_unpacks_it(download)
  as_a_spreadsheet_saves_it(download / LABELS)
  builder = build(tmp_path / "data", manual_dir=download)
  rows = (download / LABELS).read_text(encoding="utf-8-sig").strip().splitlines()[1:]
  assert builder.info.splits["validation"].num_examples == len(rows)
  assert f"Skipped {skipped} macOS metadata files" in caplog.text
