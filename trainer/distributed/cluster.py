"""Which worker of which cluster this process is, from TF_CONFIG or a SLURM job step (no TensorFlow here).

TF_CONFIG is TensorFlow's own description of a multi-worker job: every process gets the same
"cluster" (job name -> "host:port" addresses) and its own "task" (job name and index), e.g.
  {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}
Under SLURM, `srun` starts one task per process; SLURM_PROCID is its rank, and TensorFlow's
SlurmClusterResolver turns the step's node list into addresses (trainer/distributed/multi_worker.py).

The chief (the task of job "chief" if there is one, else worker 0) writes the run folder; every
other worker writes to a temporary folder of its own and removes it (Keras' multi-worker convention).
"""

import dataclasses
import json
import os
from collections.abc import Mapping

from trainer.errors import TrainerError

JOBS = ("chief", "worker")  # the jobs MultiWorkerMirroredStrategy trains with, in TensorFlow's task order


@dataclasses.dataclass(frozen=True)
class Role:
  """This process's place in a multi-worker job."""
  source: str  # "TF_CONFIG" or "SLURM"
  rank: int  # 0 = the chief; TensorFlow's task order (chief job first, then workers)
  workers: int  # every process that trains, the chief included
  addresses: tuple[str, ...] = ()  # "host:port" in rank order (SLURM's are resolved by TensorFlow later)
  chief_job: bool = False  # the cluster has a "chief" task (else worker 0 is the chief)

  def address(self, job: str, index: int) -> str:
    """TensorFlow's task (job, index) as "job index at host:port" (or without the address if unknown)."""
    rank = index + (1 if job == "worker" and self.chief_job else 0)
    return f"{job} {index} at {self.addresses[rank]}" if rank < len(self.addresses) else f"{job} {index}"

  def others(self) -> list[str]:
    """Every other process of the job, as address() names it."""
    tasks = [("chief", 0)] * self.chief_job + [("worker", i) for i in range(self.workers - self.chief_job)]
    return [self.address(*task) for rank, task in enumerate(tasks) if rank != self.rank]

  @property
  def is_chief(self) -> bool:
    return self.rank == 0

  def __str__(self) -> str:
    return f"worker {self.rank} of {self.workers} ({'the chief, ' if self.is_chief else ''}from {self.source})"


def _tf_config_error(problem: str) -> TrainerError:
  return TrainerError(f"TF_CONFIG {problem}. It must look like {{\"cluster\": {{\"worker\": [\"host1:port\", "
                      "\"host2:port\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}, the same cluster in "
                      "every process and each process's own task (README: Several machines).")


def from_tf_config(text: str) -> Role:
  """The role TF_CONFIG describes; any other shape is one TrainerError saying what is wrong."""
  try:
    config = json.loads(text)
  except ValueError as error:
    raise _tf_config_error(f"is not valid JSON ({error})") from None
  if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) or not config["cluster"]:
    raise _tf_config_error("has no \"cluster\" object")
  cluster, task = config["cluster"], config.get("task")
  unsupported = sorted(set(cluster) - set(JOBS))
  if unsupported:
    raise _tf_config_error(f"names the job(s) {', '.join(unsupported)}: only \"chief\" and \"worker\" train "
                           "here (synchronous data-parallel training has no parameter servers or evaluator)")
  addresses = []
  for job in JOBS:
    tasks = cluster.get(job, [])
    if not isinstance(tasks, list) or not all(isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in tasks):
      raise _tf_config_error(f"lists the {job} addresses as {tasks!r}, not a list of \"host:port\" strings")
    addresses += tasks
  if len(cluster.get("chief", [])) > 1:
    raise _tf_config_error("names more than one chief")
  if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int) \
      or not 0 <= task["index"] < len(cluster[task["type"]]):
    raise _tf_config_error(f"has the task {task!r}: it needs a \"type\" that is a job of the cluster and an "
                           "\"index\" into that job's list")
  if len(set(addresses)) != len(addresses):
    raise _tf_config_error("lists an address twice")
  rank = task["index"] + (len(cluster.get("chief", [])) if task["type"] == "worker" else 0)
  return Role("TF_CONFIG", rank, len(addresses), tuple(addresses), chief_job="chief" in cluster)


def slurm_step(environ: Mapping[str, str]) -> Role | None:
  """The role of a task of a SLURM job step with several tasks (`srun -n 2 ...`), else None."""
  try:
    tasks, rank = int(environ.get("SLURM_STEP_NUM_TASKS", "1")), int(environ.get("SLURM_PROCID", "0"))
  except ValueError:
    return None
  return Role("SLURM", rank, tasks) if tasks > 1 and "SLURM_STEP_NODELIST" in environ else None


def detect(strategy: str, environ: Mapping[str, str] = os.environ) -> Role | None:
  """This process's role for --strategy (auto or multi_worker), or None when it trains alone.

  TF_CONFIG wins over SLURM (a TF_CONFIG set inside a SLURM job is the user's explicit choice).
  """
  if strategy not in ("auto", "multi_worker"):
    return None
  if environ.get("TF_CONFIG"):
    return from_tf_config(environ["TF_CONFIG"])
  role = slurm_step(environ)
  if role is None and strategy == "multi_worker":
    raise TrainerError("--strategy=multi_worker needs TF_CONFIG (describing the cluster and this worker's task) "
                       "or a SLURM job step with several tasks (srun -n N ...); see README: Several machines.")
  return role
