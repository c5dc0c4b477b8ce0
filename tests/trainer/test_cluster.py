"""Who is who in a multi-worker job: TF_CONFIG and SLURM read, checked and explained (no processes here)."""

import json

import pytest

from tests.support.subprocesses import module
from trainer.distributed import cluster
from trainer.errors import TrainerError

TWO_WORKERS = {"cluster": {"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", "index": 1}}


def tf_config(config) -> str:
  return json.dumps(config)


def test_tf_config_gives_rank_workers_and_addresses():
  role = cluster.from_tf_config(tf_config(TWO_WORKERS))
  assert (role.rank, role.workers, role.addresses, role.is_chief) == (1, 2, ("host1:2222", "host2:2222"), False)
  assert cluster.from_tf_config(tf_config({**TWO_WORKERS, "task": {"type": "worker", "index": 0}})).is_chief


def test_a_chief_job_comes_first_and_is_the_chief():
  config = {"cluster": {"chief": ["boss:1"], "worker": ["w0:1", "w1:1"]}, "task": {"type": "worker", "index": 0}}
  role = cluster.from_tf_config(tf_config(config))
  assert (role.rank, role.workers, role.is_chief, role.addresses) == (1, 3, False, ("boss:1", "w0:1", "w1:1"))
  assert role.address("worker", 1) == "worker 1 at w1:1" and role.address("chief", 0) == "chief 0 at boss:1"
  assert cluster.from_tf_config(tf_config({**config, "task": {"type": "chief", "index": 0}})).is_chief


@pytest.mark.parametrize("text, says", [
    ("{not json", "is not valid JSON"),
    (tf_config({"task": {"type": "worker", "index": 0}}), "has no \"cluster\""),
    (tf_config({"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": "worker", "index": 0}}),
     "names the job(s) ps"),
    (tf_config({"cluster": {"worker": ["a:1", "b"]}, "task": {"type": "worker", "index": 0}}), "not a list of"),
    (tf_config({"cluster": {"worker": "a:1"}, "task": {"type": "worker", "index": 0}}), "not a list of"),
    (tf_config({**TWO_WORKERS, "task": {"type": "worker", "index": 2}}), "has the task"),
    (tf_config({**TWO_WORKERS, "task": {"type": "chief", "index": 0}}), "has the task"),
    (tf_config({"cluster": TWO_WORKERS["cluster"]}), "has the task None"),
    (tf_config({"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}), "an address twice"),
])
def test_a_malformed_tf_config_is_one_error_saying_what_is_wrong(text, says):
  with pytest.raises(TrainerError, match="TF_CONFIG") as raised:
    cluster.from_tf_config(text)
  assert says in str(raised.value) and "README: Several machines" in str(raised.value)


SLURM = {"SLURM_PROCID": "3", "SLURM_STEP_NUM_TASKS": "4", "SLURM_STEP_NODELIST": "node[01-02]",
         "SLURM_STEP_TASKS_PER_NODE": "2(x2)"}


def test_detect_prefers_tf_config_then_slurm_and_trains_alone_otherwise():
  assert cluster.detect("auto", {"TF_CONFIG": tf_config(TWO_WORKERS), **SLURM}).source == "TF_CONFIG"
  role = cluster.detect("auto", SLURM)
  assert (role.source, role.rank, role.workers, role.is_chief) == ("SLURM", 3, 4, False)
  assert cluster.detect("auto", {**SLURM, "SLURM_STEP_NUM_TASKS": "1"}) is None  # one task: not a cluster
  assert cluster.detect("auto", {}) is None
  assert cluster.detect("mirrored", {"TF_CONFIG": tf_config(TWO_WORKERS)}) is None  # the flag says one machine
  with pytest.raises(TrainerError, match="needs TF_CONFIG .* or a SLURM job step"):
    cluster.detect("multi_worker", {})


def test_slurm_environment_resolves_to_the_expected_cluster(monkeypatch):
  """TensorFlow's SlurmClusterResolver, from the variables alone (no scontrol, no nvidia-smi)."""
  from trainer.distributed import multi_worker
  for name, value in SLURM.items():
    monkeypatch.setenv(name, value)
  monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
  role = cluster.detect("auto")
  resolver = multi_worker.cluster_resolver(role, slurm_port=9000)
  assert resolver.cluster_spec().as_dict() == {"worker": ["node01:9000", "node01:9001", "node02:9000",
                                                          "node02:9001"]}
  assert (resolver.task_type, resolver.task_id) == ("worker", 3)
  assert multi_worker.addresses(resolver)[3] == "node02:9001"
  assert resolver.num_accelerators() == {"GPU": 0}  # what this process sees (no GPU here)
  import os
  assert os.environ["CUDA_VISIBLE_DEVICES"] == "7"  # SLURM's GPU binding is left alone


def test_a_lost_peer_is_explained_by_the_telling_line_with_its_address():
  from trainer.distributed import multi_worker
  role = cluster.from_tf_config(tf_config({**TWO_WORKERS, "task": {"type": "worker", "index": 0}}))
  error = RuntimeError("Graph execution error:\n\nDetected at node CollectiveReduceV2 defined at:\n  File \"x.py\"\n"
                       "Collective ops is aborted by: Error reported from /job:worker/task:1: The following tasks "
                       "are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have "
                       "crashed.")
  message = str(multi_worker.lost_contact(role, error, "runs/x"))
  assert "stopped sending heartbeats" in message and "worker 1 at host2:2222" in message
  assert "File \"x.py\"" not in message and "runs/x" in message and "resumes" in message
  assert "/job:" not in message  # every task named by its address
  assert "the others:" not in message  # TensorFlow's line named the peer


def test_a_lost_peer_that_the_error_does_not_name_is_among_the_others_listed():
  # TensorFlow's line names no task now and then (seen once in a full suite run: "Collective ops is aborted by:
  # ..."); the message then says who the others are, so the user knows whose output to read.
  from trainer.distributed import multi_worker
  error = RuntimeError("Collective ops is aborted by: Cancelled: [_Derived_]Cancelled\nThe error could be from a "
                       "previous operation. Restart your program to reset.")
  worker = cluster.from_tf_config(tf_config({"cluster": {"chief": ["c:1"], "worker": ["w0:2", "w1:3"]},
                                            "task": {"type": "worker", "index": 0}}))
  message = str(multi_worker.lost_contact(worker, error, "runs/x"))
  assert "(Collective ops is aborted by: Cancelled: [_Derived_]Cancelled; the others: chief 0 at c:1, worker 1 at " \
         "w1:3)" in message, message
  role = cluster.from_tf_config(tf_config(TWO_WORKERS))
  assert "; the others: worker 0 at host1:2222)" in str(multi_worker.lost_contact(role, error, "runs/x"))


def test_the_trainer_refuses_a_malformed_tf_config_before_starting_tensorflow(tmp_path):
  config = tf_config({"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": "worker", "index": 0}})
  result = module("trainer", "--weights=none", f"--model_dir={tmp_path}", env={"TF_CONFIG": config}, timeout=60)
  assert result.returncode == 1
  lines = result.stderr.strip().splitlines()
  assert lines[-1].startswith("error: TF_CONFIG names the job(s) ps"), result.stderr[-2000:]
  assert "flags:" not in result.stdout + result.stderr  # the message, not the usage text
