"""One weight update of a small classifier through trainer.model.TrainStep, on one fixed global batch of 8
images with loss weights, under a tf.distribute strategy; writes the weights before and after it (the chief does).

  python tests/support/one_update.py <one_device|mirrored|multi_worker> <accumulation steps> <out.npz>

mirrored: two logical CPU devices in this process; multi_worker: one of the workers TF_CONFIG names. The
classifier has no BatchNorm, dropout or augmentation, whose batch statistics and random draws would differ
between micro-batches and the whole batch by design; everything else is the trainer's step.
"""

import sys

import numpy as np
import tensorflow as tf

GLOBAL_BATCH = 8


def global_batch():
  data = np.random.default_rng(0)
  return (data.integers(0, 256, (GLOBAL_BATCH, 16, 16, 3), dtype=np.uint8),
          data.integers(0, 2, (GLOBAL_BATCH,)).astype(np.int32),
          data.uniform(0.5, 2.0, (GLOBAL_BATCH,)).astype(np.float32))


def update(strategy: tf.distribute.Strategy, accumulation_steps: int) -> tuple[list, list]:
  """The classifier's weights before and after one update on `global_batch()`, split over the replicas."""
  import keras
  from trainer import recipe
  from trainer.config import TrainConfig
  from trainer.metrics import training_metrics
  from trainer.model import train_step_for

  def shard(context: tf.distribute.InputContext):  # each replica its consecutive share of the global batch
    share = GLOBAL_BATCH // context.num_input_pipelines
    first = context.input_pipeline_id * share
    pieces = tuple(t[first:first + share] for t in global_batch())
    return tf.data.Dataset.from_tensor_slices(pieces).batch(context.get_per_replica_batch_size(GLOBAL_BATCH))

  keras.utils.set_random_seed(0)
  with strategy.scope():
    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    classifier = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    step = train_step_for(classifier, TrainConfig(augmentation="none", label_smoothing=0.1,
                                                  accumulation_steps=accumulation_steps))
    step.compile(optimizer=recipe.optimizer("sgd", 0.5, "constant", steps=10), loss=keras.losses.BinaryCrossentropy(),
                 metrics=training_metrics())
  before = classifier.get_weights()
  step.fit(strategy.distribute_datasets_from_function(shard), steps_per_epoch=1, epochs=1, verbose=0)
  return before, classifier.get_weights()


def main(kind: str, accumulation_steps: int, out: str) -> None:
  if kind == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  from trainer import runtime
  from trainer.distributed import cluster
  role = cluster.detect("auto") if kind == "multi_worker" else None
  strategy = runtime.decide("float32", "off", kind, False, role, peer_timeout=60).strategy
  assert strategy.num_replicas_in_sync == (1 if kind == "one_device" else 2), strategy.num_replicas_in_sync
  before, after = update(strategy, accumulation_steps)
  if role is None or role.is_chief:
    np.savez(out, **{f"before_{i}": w for i, w in enumerate(before)}, **{f"after_{i}": w for i, w in enumerate(after)})


if __name__ == "__main__":
  main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
