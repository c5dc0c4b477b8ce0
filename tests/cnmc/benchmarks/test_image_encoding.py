"""The encoding benchmark's measurements: lossless formats, PNG smaller than BMP, every resize timed."""

import pytest

from cnmc.benchmarks.image_encoding import measure, measure_resize, synthetic_cells


@pytest.mark.slow  # a benchmark's own test
def test_png_and_bmp_are_measured_on_cells_and_png_is_smaller():
  cells = synthetic_cells(2)
  assert cells[0].shape == (450, 450, 3)
  results = measure(cells, repeats=1)  # it also checks that each format decodes to the same pixels
  assert set(results) == {"BMP", "PNG"}
  assert results["BMP"]["bytes_per_image"] >= 450 * 450 * 3  # uncompressed 24-bit pixels and a header
  assert results["PNG"]["bytes_per_image"] < results["BMP"]["bytes_per_image"] / 2  # mostly black background
  assert all(value > 0 for r in results.values() for value in r.values())
  resize = measure_resize(cells, size=64, repeats=1)
  assert list(resize) == ["decode only", "decode + bilinear, antialias", "decode + bilinear", "decode + area"]
  assert all(ms > 0 for ms in resize.values())
