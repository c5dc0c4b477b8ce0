"""The challenge's submission file: line i is i.bmp, one 0 or 1 per line, zipped."""

import random
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cnmc.evaluation.errors import EvaluationError
from cnmc.evaluation.submission import (SUBMISSION_FILE, image_number, numbered, submission_order,
                                   write_submission)


def test_lines_follow_the_numeric_order_and_the_zip_holds_the_same_text(tmp_path):
  names = [f"{i}.bmp" for i in range(1, 13)]
  random.Random(0).shuffle(names)
  classes = [image_number(n) % 2 for n in names]  # odd numbers ALL
  zip_path = write_submission(str(tmp_path), names, classes)
  text = (tmp_path / SUBMISSION_FILE).read_text()
  lines = text.splitlines()
  assert len(lines) == 12 and set(lines) <= {"0", "1"}
  assert lines == [str(i % 2) for i in range(1, 13)]  # line 10 is 10.bmp, after 9.bmp (not after 1.bmp)
  with zipfile.ZipFile(zip_path) as archive:
    assert archive.namelist() == [SUBMISSION_FILE]
    assert archive.read(SUBMISSION_FILE).decode() == text


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.randoms(use_true_random=False))
def test_order_sorts_any_shuffle_numerically(count, rng):
  names = [f"{i}.{rng.choice(['bmp', 'BMP', 'png'])}" for i in range(1, count + 1)]
  rng.shuffle(names)
  order = submission_order(names)
  assert [image_number(names[i]) for i in order] == list(range(1, count + 1))


def test_gaps_and_repeats_are_named():
  with pytest.raises(EvaluationError, match=r"missing: 3\.bmp"):
    submission_order(["1.bmp", "2.bmp", "4.bmp"])
  with pytest.raises(EvaluationError, match=r"repeated: 2\.bmp"):
    submission_order(["1.bmp", "2.bmp", "2.png"])


def test_only_numbered_names_make_a_submission():
  assert numbered(["1.bmp", "20.png"]) and not numbered(["1.bmp", "UID_11_1_1_all.bmp"])
  assert image_number("UID_H10_3_2_hem.bmp") is None


def test_classes_other_than_0_and_1_are_refused(tmp_path):
  with pytest.raises(ValueError, match="0 or 1"):
    write_submission(str(tmp_path), ["1.bmp"], np.array([2]))
