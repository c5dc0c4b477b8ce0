"""The benchmarks' data: the tiny synthetic set the other tests use, and its BMP download as the image folders
the notebook baselines read."""

import pytest


@pytest.fixture(scope="session")
def benchmark_data(tiny_synthetic):
  """(builder, folder of all/ and hem/ BMPs)."""
  from benchmarks.data import class_folders
  return tiny_synthetic, class_folders(tiny_synthetic)
