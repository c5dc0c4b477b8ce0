"""The benchmarks' data: the tiny synthetic set the other tests use, and its BMP download as the image folders
the notebook baselines read."""

import pytest


@pytest.fixture(scope="session")
def benchmark_data(tiny_synthetic, shared_dir):
  """(builder, folder of all/ and hem/ BMPs)."""
  from cnmc.benchmarks.data import class_folders
  from tests.support.shared import made_once
  return tiny_synthetic, made_once(shared_dir / "tiny_synthetic_folders", lambda _: class_folders(tiny_synthetic))


@pytest.fixture(scope="session")
def benchmark_command_data(shared_dir) -> list[str]:
  """The flags that point a benchmark command at a small data folder of its own kind, built once per test run."""
  from cnmc.benchmarks.data import build_benchmark_data
  from tests.support.shared import made_once
  scale, folder = 0.005, shared_dir / "benchmark_data"
  made_once(folder, lambda _: build_benchmark_data(str(folder), scale))
  return [f"--images_scale={scale}", f"--data_dir={folder}"]
