import pytest
from hypothesis import given, strategies as st

from cnmc_tfds.cnmc.errors import DatasetError
from cnmc_tfds.cnmc.filenames import (ALL, HEM, cell_file_name, is_junk, parse_cell_name,
                                      parse_numbered_name)


def test_parses_an_all_cell():
  cell = parse_cell_name("UID_11_10_1_all.bmp")
  assert (cell.subject_id, cell.image_index, cell.cell_index, cell.label) == ("11", 10, 1, ALL)


@pytest.mark.parametrize("name", ["UID_H10_43_1_hem.bmp", "UID_h10_43_1_hem.bmp", "uid_h10_43_1_HEM.BMP"])
def test_healthy_subject_is_normalised_whatever_the_case(name):
  cell = parse_cell_name(name)
  assert (cell.subject_id, cell.image_index, cell.cell_index, cell.label) == ("H10", 43, 1, HEM)


@pytest.mark.parametrize("name", ["UID_11_10_all.bmp", "UID_X1_1_1_all.bmp", "UID_11_10_1_blast.bmp",
                                  "UID_11_10_1_all.png", "notes.txt", "UID_11_a_1_all.bmp"])
def test_bad_cell_name_is_an_error_naming_the_file(name):
  with pytest.raises(DatasetError, match=name.replace(".", r"\.")):
    parse_cell_name(name)


@given(subject=st.one_of(st.integers(1, 999).map(str), st.integers(1, 999).map(lambda n: f"H{n}")),
       image=st.integers(0, 10_000), cell=st.integers(0, 50), label=st.sampled_from([ALL, HEM]))
def test_cell_name_round_trip(subject, image, cell, label):
  parsed = parse_cell_name(cell_file_name(subject, image, cell, label))
  assert (parsed.subject_id, parsed.image_index, parsed.cell_index, parsed.label) == (subject, image, cell, label)


@given(number=st.integers(1, 100_000))
def test_numbered_name_round_trip(number):
  assert parse_numbered_name(f"{number}.bmp") == number


@pytest.mark.parametrize("name", ["0.bmp", "a.bmp", "1.png", "UID_1_1_1_all.bmp"])
def test_bad_numbered_name_is_an_error(name):
  with pytest.raises(DatasetError, match=name.replace(".", r"\.")):
    parse_numbered_name(name)


@pytest.mark.parametrize("name,junk", [(".DS_Store", True), ("Thumbs.db", True), ("thumbs.db", True),
                                       ("._UID_11_10_1_all.bmp", True), ("desktop.ini", True),
                                       ("UID_11_10_1_all.bmp", False), ("1.bmp", False)])
def test_os_clutter_is_recognised(name, junk):
  assert is_junk(name) is junk
