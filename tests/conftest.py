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


def pytest_xdist_auto_num_workers(config):
  """`-n auto`: one worker more than the cores. Many tests wait on processes of their own (a trainer starting,
  a peer's timeout, a killed run's successor); a spare worker fills those waits. Whole suite on 2 cores,
  2026-12-06: 568 s with 3 workers against 782 s with 2 (1.95 against 1.68 cores busy)."""
  return len(os.sched_getaffinity(0)) + 1


# The files of the longest slow tests (1-3 min each in CI's --durations), started before the other slow tests.
LONGEST = ("test_kill_drill.py", "test_compare_tricks.py", "test_multi_worker.py", "test_cross_validation.py")


def pytest_collection_modifyitems(config, items):
  """Each pytest-xdist worker's first share of the tests (worksteal hands out contiguous shares, then moves
  tests from the end of the longest queue) starts with its turn of the slow tests, the longest first, then fast
  tests fill it: the long tests run side by side early and the short ones fill the gaps, instead of a long
  test collected last keeping one core busy alone at the end."""
  workers = getattr(config, "workerinput", {}).get("workercount", 1)
  slow = sorted((item for item in items if item.get_closest_marker("slow")), key=lambda i: i.path.name not in LONGEST)
  fast = [item for item in items if not item.get_closest_marker("slow")]
  lanes = [slow[lane::workers] for lane in range(workers)]
  share = -(-len(items) // workers)
  for lane in lanes:
    taken = max(0, share - len(lane))
    lane.extend(fast[:taken])
    fast = fast[taken:]
  items[:] = [item for lane in lanes for item in lane] + fast
