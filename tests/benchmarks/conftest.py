"""The benchmarks' synthetic data (a download of BMPs and its TFRecords), built once for these tests."""

import pytest


@pytest.fixture(scope="session")
def benchmark_data(tmp_path_factory):
  """(builder, folder of all/ and hem/ BMPs) at 0.5% of the real counts."""
  from benchmarks.data import build_benchmark_data
  return build_benchmark_data(str(tmp_path_factory.mktemp("benchmark_data")), 0.005)
