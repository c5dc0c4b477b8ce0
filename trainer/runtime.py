"""Per-device decisions: precision, XLA and the distribution strategy, each logged with its reason."""

import dataclasses
import os

import tensorflow as tf
from absl import logging

from trainer.distributed import multi_worker
from trainer.distributed.cluster import Role
from trainer.errors import TrainerError

_PRECISIONS = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16", "float32": "float32"}


@dataclasses.dataclass(frozen=True)
class Runtime:
  device: str  # e.g. "2 x GPU (NVIDIA A100)" or "CPU (2 cores)"
  precision: str  # a Keras dtype policy name
  xla: bool
  strategy: tf.distribute.Strategy
  strategy_name: str

  def summary(self) -> str:
    """One line for the console: what `auto` chose (the reasons are logged with --verbosity=0)."""
    return (f"Device: {self.device}; {self.precision}, XLA {'on' if self.xla else 'off'}, "
            f"{self.strategy_name} ({self.strategy.num_replicas_in_sync} replica(s)).")

  def to_json(self) -> dict:
    return {"device": self.device, "precision": self.precision, "xla": self.xla, "strategy": self.strategy_name,
            "replicas": self.strategy.num_replicas_in_sync}


def _describe(gpus) -> str:
  if not gpus:
    return f"CPU ({os.cpu_count()} cores)"
  name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
  return f"{len(gpus)} x GPU ({name})"


def _strategy(flag: str, gpus, role: Role | None, peer_timeout: int, slurm_port: int
              ) -> tuple[tf.distribute.Strategy, str]:
  if role is not None:  # --strategy=auto or multi_worker in a cluster (trainer/distributed/cluster.py)
    return multi_worker.make_strategy(role, peer_timeout, slurm_port), "multi_worker"
  if flag == "auto":
    flag = "mirrored" if len(gpus) > 1 else "one_device"
  if flag == "one_device":
    return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0"), flag
  if flag == "multi_worker":
    raise TrainerError("--strategy=multi_worker without a cluster: set TF_CONFIG or run under srun -n N.")
  if flag == "mirrored":
    # Without GPUs, mirror over the logical CPU devices (how the tests run it on one machine).
    devices = None if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
  return tf.distribute.MirroredStrategy(devices=devices), flag


def decide(mixed_precision: str, xla: str, strategy: str, deterministic: bool, role: Role | None = None,
           peer_timeout: int = 300, slurm_port: int = 8888) -> Runtime:
  """Resolves the 'auto' flags for this machine and logs each choice and why.

  Args:
    mixed_precision, xla, strategy: the flags' values ("auto" or a choice).
    deterministic: --deterministic (turns XLA off).
    role: this process's place in a multi-worker job (trainer.distributed.cluster.detect), None when alone.
    peer_timeout, slurm_port: --peer_timeout and --slurm_port (multi-worker only).
  Returns:
    Runtime: device description, Keras dtype policy, XLA on/off, the tf.distribute strategy.
  Raises:
    TrainerError: a cluster that does not come together within peer_timeout.
  """
  gpus = tf.config.list_physical_devices("GPU")
  if mixed_precision == "auto":
    precision = "mixed_float16" if gpus else "float32"
    logging.info("Precision: %s (auto: %s).", precision,
                 "float16 tensor cores on the GPU" if gpus else "no GPU; CPUs gain nothing from float16")
  else:
    precision = _PRECISIONS[mixed_precision]
  if xla == "auto":
    use_xla = bool(gpus)
    logging.info("XLA: %s (auto: %s).", "on" if use_xla else "off",
                 "fuses the step on the GPU" if gpus else "no GPU; XLA slows convolution training on CPUs (BUILD.md)")
  else:
    use_xla = xla == "on"
  if use_xla and deterministic:
    # Keras turns XLA off under op determinism anyway; say so rather than let it happen silently.
    logging.warning("XLA: off, because --deterministic (not every XLA op has a deterministic kernel).")
    use_xla = False
  distribution, name = _strategy(strategy, gpus, role, peer_timeout, slurm_port)
  logging.info("Strategy: %s, %d replica(s).", name, distribution.num_replicas_in_sync)
  return Runtime(_describe(gpus), precision, use_xla, distribution, name)
