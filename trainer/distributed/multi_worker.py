"""Training across processes and machines with MultiWorkerMirroredStrategy (TensorFlow's own engine).

What this adds around the strategy:
- a cluster that is not complete within --peer_timeout is an error naming the addresses waited for,
  and a worker whose peer dies stops instead of waiting forever (the coordination service's barrier
  and heartbeat; TensorFlow's defaults wait without limit);
- the chief's state reaches the other workers through collectives (trainer/distributed/replicas.py: the epochs
  already done, the best score, restored weights), so only the chief reads and writes the run folder,
  and the folder need not be on storage the other machines can see;
- two fixes Keras 3.15 needs to fit() under this strategy at all (keras-team/keras#20585).
"""

import re

import keras
import tensorflow as tf

from trainer.distributed.cluster import Role
from trainer.errors import TrainerError

HEARTBEAT_SECONDS = 30  # a silent peer is declared dead after this long, or --peer_timeout if shorter
# What a lost peer surfaces as, depending on where the survivor was (collective, RPC, barrier).
LOST_CONTACT = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
                tf.errors.CancelledError, tf.errors.InternalError, tf.errors.FailedPreconditionError)


def cluster_resolver(role: Role, slurm_port: int) -> tf.distribute.cluster_resolver.ClusterResolver:
  if role.source == "TF_CONFIG":
    return tf.distribute.cluster_resolver.TFConfigClusterResolver()
  # GPU binding is left to SLURM (srun --gpus-per-task); the resolver's own allocation is switched off,
  # and these two numbers only let it enumerate the tasks of a node.
  slurm = tf.distribute.cluster_resolver.SlurmClusterResolver(port_base=slurm_port, gpus_per_node=1024,
                                                              gpus_per_task=1, auto_set_gpu=False)
  spec = slurm.cluster_spec()
  return tf.distribute.cluster_resolver.SimpleClusterResolver(
      spec, task_type=slurm.task_type, task_id=slurm.task_id, rpc_layer="grpc",
      num_accelerators={"GPU": len(tf.config.list_physical_devices("GPU"))})


def addresses(resolver) -> list[str]:
  """Every task's host:port in rank order (the chief's job first)."""
  spec = resolver.cluster_spec().as_dict()
  return [address for job in ("chief", "worker") for address in spec.get(job, [])]


def _configure_coordination(resolver, peer_timeout: int) -> None:
  """The coordination service MultiWorkerMirroredStrategy would start, with deadlines: all tasks must
  register within peer_timeout (TensorFlow waits forever), and a silent task fails the others."""
  from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
  from tensorflow.python.distribute import multi_worker_util
  from tensorflow.python.eager import context
  spec = multi_worker_util.normalize_cluster_spec(resolver.cluster_spec())
  jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job))
          for job in ("chief", "worker") if job in spec.jobs]
  context.context().configure_coordination_service(
      service_type="standalone", service_leader=multi_worker_util.coordination_leader(spec),
      cluster_register_timeout_in_ms=peer_timeout * 1000,
      heartbeat_timeout_in_ms=min(peer_timeout, HEARTBEAT_SECONDS) * 1000,
      coordinated_jobs=jobs)
  # Registration is a barrier with the timeout above, so the leader also gives up on missing workers.
  context.context().coordination_service.cluster_register_with_barrier = True


def make_strategy(role: Role, peer_timeout: int, slurm_port: int) -> tf.distribute.MultiWorkerMirroredStrategy:
  """Joins the cluster (waiting up to peer_timeout seconds for every worker) and returns its strategy."""
  resolver = cluster_resolver(role, slurm_port)
  everyone = addresses(resolver)
  _configure_coordination(resolver, peer_timeout)
  print(f"Joining the cluster as {role}; waiting up to {peer_timeout} s for {', '.join(everyone)}.", flush=True)
  try:
    strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
  except LOST_CONTACT as error:
    raise TrainerError(
        f"{role}: the cluster did not come together within --peer_timeout={peer_timeout} s (waited for "
        f"{', '.join(everyone)}; {_what_happened(error, role)}). Start every worker with the same cluster, check that "
        "each address is reachable from every machine (host names, ports, firewalls), or raise --peer_timeout "
        "if a worker starts late (e.g. still building the dataset: build it before launching).") from None
  _patch_keras()
  return strategy


def lost_contact(role: Role, error: Exception, model_dir: str) -> TrainerError:
  """The one message for a worker whose peer died or became unreachable during training."""
  what, others = _what_happened(error, role), role.others()
  if not any(other in what for other in others):  # TensorFlow's line names no peer: say who the others are
    what += f"; the others: {', '.join(others)}"
  return TrainerError(
      f"{role}: lost contact with the other workers ({what}). Every finished epoch is "
      f"committed in {model_dir} by the chief; start all workers again with the same flags and the run resumes "
      "from there. If no worker was stopped on purpose, look at the others' output for the first error.")


_TASK = re.compile(r"/job:(\w+)(?:/replica:\d+)?/task:(\d+)")  # TensorFlow's name of a task
_TELLING = ("stopped sending heartbeats", "socket closed", "connection", "deadline", "unavailable", "abort")


def _what_happened(error: Exception, role: Role | None = None) -> str:
  """The line of a TensorFlow error that says what happened, with task names turned into addresses."""
  text = getattr(error, "message", None) or str(error)
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  found = next((line for key in _TELLING for line in lines if key in line.lower()), None)
  if found is None:
    found = next((line for line in lines if not line.endswith(":") and not line.startswith(("Detected at", "<"))),
                 type(error).__name__)
  elif found.endswith(":"):  # "The following tasks are unhealthy ...:" is followed by the tasks
    found += " " + " ".join(line for line in lines[lines.index(found) + 1:] if line.startswith("/job:"))[:200]
  if role is not None:
    found = _TASK.sub(lambda m: role.address(m.group(1), int(m.group(2))), found)
  return found[:400]


def _patch_keras() -> None:
  """Two Keras 3.15 bugs stop fit() under MultiWorkerMirroredStrategy (keras-team/keras#20585):
  1. to learn the input shapes it reads a batch and reduces the whole batch across workers, which
     fails on a tuple of tensors (ValueError: ... PerReplica ... to a Tensor); the dataset's element
     spec has the shapes, so it builds from that (no batch read, no collective);
  2. it averages each step's scalar logs with axis=0, which fails for scalars; a plain mean is meant.
  Both patches only change what Keras does with several workers, and are checked by a real
  two-process run in the tests."""
  from keras.src.backend.tensorflow import trainer as tf_trainer
  if getattr(tf_trainer, "_cnmc_patched", False):
    return
  if not all(hasattr(tf_trainer, name) for name in ("reduce_per_replica", "_collective_all_reduce_multi_worker")) \
      or not hasattr(tf_trainer.TensorFlowTrainer, "_maybe_symbolic_build"):
    raise TrainerError(f"Keras {keras.__version__} is not the Keras this trainer's multi-worker support was "
                       "written for (3.15): install the versions in pyproject.toml.")
  reduce_per_replica = tf_trainer.reduce_per_replica

  def reduce_scalars_too(values, strategy, reduction):
    if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):
      return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
    return reduce_per_replica(values, strategy, reduction)

  symbolic_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build

  def build_from_spec(self, iterator=None, data_batch=None):
    if iterator is not None and data_batch is None and tf_trainer._collective_all_reduce_multi_worker(
        self.distribute_strategy):
      spec = iterator.data_adapter.get_tf_dataset().element_spec
      data_batch = tf.nest.map_structure(lambda s: getattr(s, "_value_specs", (s,))[0], spec)
      iterator = None
    return symbolic_build(self, iterator=iterator, data_batch=data_batch)

  tf_trainer.reduce_per_replica = reduce_scalars_too
  tf_trainer.TensorFlowTrainer._maybe_symbolic_build = build_from_spec
  tf_trainer._cnmc_patched = True
