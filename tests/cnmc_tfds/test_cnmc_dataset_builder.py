"""The real config built from the fake downloads in dummy_data/, one test case per layout."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from cnmc_tfds.cnmc import cnmc_dataset_builder, make_dummy_data
from cnmc_tfds.cnmc.cell_images import centre_crop
from tests.cnmc_tfds.helpers import DUMMY_DATA, assert_subject_disjoint, build, examples

SPLITS = {"fold_0": 3, "fold_1": 2, "fold_2": 3, "validation": 3, "test": 2}


class KaggleLayoutTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = cnmc_dataset_builder.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ["real"]
  EXAMPLE_DIR = DUMMY_DATA / "kaggle"
  SPLITS = SPLITS
  SKIP_CHECKSUMS = True  # nothing is downloaded


class TciaLayoutTest(KaggleLayoutTest):
  EXAMPLE_DIR = DUMMY_DATA / "tcia"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  return build(tmp_path_factory.mktemp("data"), manual_dir=DUMMY_DATA / "kaggle")


def test_training_examples_carry_what_the_name_says(built):
  fold_2 = examples(built, "fold_2")
  assert [r["file_name"] for r in fold_2] == ["UID_3_1_1_all.bmp", "UID_H3_5_2_hem.bmp", "UID_h3_6_1_hem.bmp"]
  assert [r["subject_id"] for r in fold_2] == ["3", "H3", "H3"]  # h3 and H3 are one subject
  assert [r["label"] for r in fold_2] == [1, 0, 0]
  assert [(r["image_index"], r["cell_index"]) for r in fold_2] == [(1, 1), (5, 2), (6, 1)]
  assert {r["fold"] for r in fold_2} == {2}
  assert all(r["original_name"] == r["file_name"] for r in fold_2)


def test_images_are_stored_losslessly(built):
  stored = examples(built, "fold_0")[0]
  on_disk = np.asarray(Image.open(DUMMY_DATA / "kaggle/C-NMC_Leukemia/training_data/fold_0/all/UID_1_1_1_all.bmp"))
  assert stored["image"].dtype == np.uint8 and stored["image"].shape == (450, 450, 3)
  assert np.array_equal(stored["image"], on_disk)


def test_validation_takes_labels_and_subjects_from_the_csv(built):
  rows = examples(built, "validation")
  assert [(r["file_name"], r["original_name"], r["subject_id"], r["label"]) for r in rows] == [
      ("1.bmp", "UID_4_1_1_all.bmp", "4", 1),
      ("2.bmp", "UID_H4_1_1_hem.bmp", "H4", 0),
      ("3.bmp", "UID_h5_2_1_hem.bmp", "H5", 0)]
  assert {r["fold"] for r in rows} == {-1}


def test_test_split_is_unlabeled_and_600px_images_are_centre_cropped(built):
  rows = examples(built, "test")
  assert [r["label"] for r in rows] == [-1, -1]
  assert [(r["file_name"], r["cropped"]) for r in rows] == [("1.bmp", False), ("2.bmp", True)]
  assert {r["subject_id"] for r in rows} == {""}
  index_of_2bmp = sum(map(len, make_dummy_data.TRAINING.values())) + len(make_dummy_data.PRELIM) + 1
  expected = centre_crop(make_dummy_data.cell_disc(index_of_2bmp, 600))
  assert np.array_equal(rows[1]["image"], expected)


def test_no_subject_is_in_two_splits(built):
  assert_subject_disjoint(built)


def test_junk_files_are_not_examples(built):
  names = {r["file_name"] for split in SPLITS for r in examples(built, split)}
  assert not {".DS_Store", "Thumbs.db", "._UID_H3_5_2_hem.bmp"} & names
