"""The local launcher's pieces: ports, TF_CONFIG, GPU shares, refused flags (its real runs are in
tests/trainer/test_multi_worker.py)."""

import json

import pytest

from tools import launch_local
from trainer.distributed import cluster


def test_each_worker_gets_the_same_cluster_and_its_own_task():
  ports = launch_local.free_ports(3)
  assert len(set(ports)) == 3
  addresses = [f"127.0.0.1:{port}" for port in ports]
  roles = [cluster.from_tf_config(launch_local.tf_config(addresses, i)) for i in range(3)]
  assert [role.rank for role in roles] == [0, 1, 2] and all(role.addresses == tuple(addresses) for role in roles)
  assert json.loads(launch_local.tf_config(addresses, 1))["task"] == {"type": "worker", "index": 1}


def test_gpus_are_shared_out_evenly_or_refused():
  assert launch_local.device_shares([], 2) == [None, None]
  assert launch_local.device_shares(["0", "1", "2", "3"], 2) == ["0,1", "2,3"]
  assert launch_local.device_shares(["3", "5"], 2) == ["3", "5"]
  with pytest.raises(SystemExit):
    launch_local.device_shares(["0", "1", "2"], 2)


def test_a_single_machine_strategy_is_refused(capsys):
  launch_local.check_trainer_arguments(["--strategy=multi_worker", "--epochs=2"])
  with pytest.raises(SystemExit) as raised:
    launch_local.check_trainer_arguments(["--strategy=mirrored"])
  assert raised.value.code == 1 and "the launcher runs multi-worker training" in capsys.readouterr().err
