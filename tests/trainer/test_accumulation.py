"""--accumulation_steps=k: each global batch of --batch_size x k images is k micro-batches inside one train step,
their gradients summed and applied once, unconditionally. That update is the update of one device training on
the whole batch, on one device, on two replicas (MirroredStrategy over two logical CPUs) and on two worker
processes (MultiWorkerMirroredStrategy on 127.0.0.1)."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.support import one_update
from tests.support.subprocesses import REPO, environment, python
from tools.launch_local import free_ports, tf_config

SCRIPT = str(REPO / "tests" / "support" / "one_update.py")


def one_device(steps: int) -> tuple[list, list]:
  return one_update.update(tf.distribute.OneDeviceStrategy("/cpu:0"), steps)


@pytest.fixture(scope="module")
def whole_batch() -> tuple[list, list]:
  """One device, the whole batch in one pass (no accumulation): the weights before and after."""
  return one_device(1)


def saved(path) -> tuple[list, list]:
  with np.load(path) as weights:
    count = len(weights.files) // 2
    return [weights[f"before_{i}"] for i in range(count)], [weights[f"after_{i}"] for i in range(count)]


def assert_same_update(got: tuple[list, list], whole: tuple[list, list]) -> None:
  for start, expected_start in zip(got[0], whole[0], strict=True):
    np.testing.assert_array_equal(start, expected_start)
  for end, expected_end, start in zip(got[1], whole[1], whole[0], strict=True):
    assert np.abs(expected_end - start).max() > 1e-3  # the update moved this weight: a real comparison
    np.testing.assert_allclose(end, expected_end, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("steps", [2, 4])
def test_micro_batches_on_one_device_update_as_the_whole_batch(whole_batch, steps):
  assert_same_update(one_device(steps), whole_batch)


@pytest.mark.slow
def test_two_replicas_with_accumulation_update_as_one_device_with_the_whole_batch(whole_batch, tmp_path):
  result = python(SCRIPT, "mirrored", "2", str(tmp_path / "w.npz"))
  assert result.returncode == 0, result.stderr[-3000:]
  assert_same_update(saved(tmp_path / "w.npz"), whole_batch)


@pytest.mark.slow
def test_two_workers_with_accumulation_update_as_one_device_with_the_whole_batch(whole_batch, tmp_path):
  addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
  workers = [subprocess.Popen([sys.executable, SCRIPT, "multi_worker", "2", str(tmp_path / "w.npz")], cwd=REPO,
                              env=environment(TF_CONFIG=tf_config(addresses, index)), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for index in range(2)]
  outputs = [worker.communicate(timeout=300)[0] for worker in workers]
  assert [worker.returncode for worker in workers] == [0, 0], "\n".join(output[-2000:] for output in outputs)
  assert_same_update(saved(tmp_path / "w.npz"), whole_batch)


def test_the_global_batch_holds_both_classes_and_unequal_loss_weights():
  images, labels, weights = one_update.global_batch()
  assert images.shape[0] == labels.shape[0] == weights.shape[0] == one_update.GLOBAL_BATCH
  assert len(set(labels.tolist())) == 2 and np.ptp(weights) > 0.5
