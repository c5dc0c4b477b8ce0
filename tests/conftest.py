"""Shared test set-up: quiet TensorFlow, and no test reaches the network."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests are CPU-sized and must not depend on a GPU

import pytest


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory, worker_id):
  """The test run's folder for what its workers make once (tests/support/shared.py)."""
  from tests.support.shared import run_folder
  return run_folder(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def tiny_synthetic(shared_dir):
  """The tiny synthetic config, built once per test run and read by every worker (tests never write into it)."""
  from tests.cnmc_tfds.helpers import build_tiny_synthetic
  from tests.support.shared import made_once
  return made_once(shared_dir / "tiny_synthetic", build_tiny_synthetic)


def pytest_collection_modifyitems(items):
  """The slow tests first, in file order, then the rest: spread over the workers (pytest-xdist), the long
  ones start early and the short ones fill the gaps, instead of a long test collected last keeping one
  core busy alone at the end."""
  items.sort(key=lambda item: item.get_closest_marker("slow") is None)
