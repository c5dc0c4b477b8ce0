"""Collectives over all replicas (devices and workers) of a tf.distribute strategy, for what Keras' fit
does not do itself: give every worker the chief's state, keep BatchNorm statistics the same on every
replica, and check that every worker ends with the chief's model."""

import hashlib

import keras
import numpy as np
import tensorflow as tf

from trainer.checkpoints import seed_states
from trainer.distributed.cluster import Role
from trainer.errors import TrainerError


def _all_reduce(strategy: tf.distribute.Strategy, replica_values, reduce_op) -> list[tf.Tensor]:
  """reduce_op over every replica of the tensors replica_values(replica_id, local_index) returns for each
  replica of this worker (eager: no function to trace)."""
  local = len(strategy.extended.worker_devices)
  per_replica = strategy.experimental_distribute_values_from_function(
      lambda context: replica_values(context.replica_id_in_sync_group,
                                     context.replica_id_in_sync_group % local))  # replicas go worker by worker
  return [strategy.reduce(reduce_op, value, axis=None) for value in per_replica]


def _first_replica_values(strategy: tf.distribute.Strategy, tensors: list[tf.Tensor]) -> list[tf.Tensor]:
  """The chief's values of `tensors`, on every worker: only replica 0 (the chief's first device)
  contributes to a sum, so the result is its value bit for bit."""
  return _all_reduce(strategy, lambda replica, _: [t if replica == 0 else tf.zeros_like(t) for t in tensors],
                     tf.distribute.ReduceOp.SUM)


def _collective_dtype(dtype: tf.DType) -> tf.DType:
  return dtype if dtype.is_floating else tf.float64  # integers (step counters, seeds) travel exactly as float64


def share_numbers(strategy: tf.distribute.Strategy, numbers: list[float]) -> list[float]:
  """The chief's `numbers` (small integers or floats, NaN allowed) on every worker."""
  values = _first_replica_values(strategy, [tf.constant(numbers, tf.float64)])
  return [float(x) for x in values[0].numpy()]


def share_variables(strategy: tf.distribute.Strategy, variables: list, sources: list) -> None:
  """Sets `variables` (Keras variables, in the same order on every worker) to the chief's values of
  `sources` (e.g. the chief's undistributed copy holding a restored backup; anything of the same
  shapes on the other workers)."""
  for variable, source in zip(variables, sources, strict=True):
    if tuple(variable.shape) != tuple(source.shape):
      raise ValueError(f"{variable.path} {variable.shape} cannot take the values of {source.path} {source.shape}")
  tensors = [tf.cast(keras.ops.convert_to_tensor(s), _collective_dtype(tf.as_dtype(s.dtype))) for s in sources]
  for variable, value in zip(variables, _first_replica_values(strategy, tensors), strict=True):
    variable.assign(tf.cast(value, variable.dtype))


def training_state(model: keras.Model, with_optimizer: bool) -> list:
  """The variables a backup restores: the model's (but its seed generators' counters, which every worker sets
  from --seed and the epoch: trainer/checkpoints.py, EpochSeeds), and its optimizer's if asked."""
  seeds = {id(variable) for variable in seed_states(model)}
  return ([variable for variable in model.variables if id(variable) not in seeds]
          + (model.optimizer.variables if with_optimizer else []))


def undistributed_copy(model: keras.Model, with_optimizer: bool) -> keras.Model:
  """A copy of model (and of its optimizer, built for the same trainable variables) whose variables
  live on this worker only, to load a backup into without any collective."""
  copy = keras.models.clone_model(model)
  if with_optimizer:
    copy.compile(optimizer=type(model.optimizer).from_config(model.optimizer.get_config()))
    copy.optimizer.build(copy.trainable_variables)
  return copy


def _hash48(*arrays) -> int:
  digest = hashlib.sha256()
  for array in arrays:
    digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(array)).tobytes())
  return int(digest.hexdigest()[:12], 16)  # 48 bits: exact in a float64


def check_identical(strategy: tf.distribute.Strategy, role: Role, variables: list) -> str:
  """Fails, naming the variables, if this worker's values differ from the chief's; returns a fingerprint
  of all of them."""
  mine = [_hash48(v) for v in variables]
  chiefs = [int(h) for h in share_numbers(strategy, [float(h) for h in mine])]
  differ = [v.path for v, a, b in zip(variables, mine, chiefs, strict=True) if a != b]
  if differ:
    raise TrainerError(f"{role}: {len(differ)} of its {len(variables)} final variables differ from the chief's "
                       f"({', '.join(differ[:5])}); the workers did not train one model. Please report this "
                       "with both workers' output.")
  return f"{_hash48(np.array(mine, np.int64)):012x}"


def batchnorm_statistics(model: keras.Model) -> list:
  """The moving means and variances of every BatchNormalization layer, nested models included."""
  found, layers = [], list(model.layers)
  while layers:
    layer = layers.pop()
    layers += getattr(layer, "layers", [])
    if isinstance(layer, keras.layers.BatchNormalization):
      found += [layer.moving_mean, layer.moving_variance]
  return found


def average_over_replicas(strategy: tf.distribute.Strategy, variables: list) -> None:
  """Sets each variable, on every replica, to the mean of its replicas' copies.

  Keras 3 updates a BatchNorm layer's moving statistics on each replica from that replica's batches
  alone, and saves the first replica's: without this, each worker (and each GPU) validates a slightly
  different model, and the saved one has seen a fraction of the data.
  """
  copies = [strategy.experimental_local_results(v.value) for v in variables]  # one per replica of this worker
  means = _all_reduce(strategy, lambda _, local: [tf.identity(c[local]) for c in copies], tf.distribute.ReduceOp.MEAN)
  for variable, mean in zip(variables, means, strict=True):
    variable.assign(mean)


class AverageBatchNormStatistics(keras.callbacks.Callback):
  """Before each validation: the BatchNorm moving statistics averaged over all replicas (see
  average_over_replicas), so validation, best.keras and every worker see one model."""

  def __init__(self, strategy: tf.distribute.Strategy):
    super().__init__()
    self.strategy = strategy

  def on_test_begin(self, logs=None):
    statistics = batchnorm_statistics(self.model)
    if statistics:
      average_over_replicas(self.strategy, statistics)
