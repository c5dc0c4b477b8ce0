"""Several replicas (trainer/distributed/replicas.py): MirroredStrategy over two logical CPU devices trains, each
replica gets the class weights one device would, BatchNorm statistics are averaged (TF configured before it starts)."""

import textwrap

import keras
import pytest

import pipeline.augment  # noqa: F401  (the saved model holds its layer)

from cnmc.run_folder import layout
from tests.support.subprocesses import python
from tests.trainer.helpers import history, read_json, tiny_config

TWO_CPUS = textwrap.dedent("""
    import sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import tensorflow_datasets as tfds
    from tests.trainer.helpers import tiny_config
    builder = tfds.builder_from_directory(sys.argv[1])
    import json
    settings = dict(strategy="mirrored", steps_per_epoch=2, validation_steps=1, balance=sys.argv[3])
    settings.update(json.loads(sys.argv[4] if len(sys.argv) > 4 else "{}"))
    config = tiny_config(sys.argv[2], **settings)
""")

TRAIN = TWO_CPUS + textwrap.dedent("""
    from trainer.train import run
    run(config, builder=builder)
""")

# The per-example weights each replica receives, against the labels it receives.
CLASS_WEIGHTS_PER_REPLICA = TWO_CPUS + textwrap.dedent("""
    import json
    from pipeline.input_pipeline import class_weights
    from trainer import data, runtime
    strategy = runtime.decide("float32", "off", "mirrored", False).strategy
    counts = data.check_splits(builder, config)
    dataset = data.train_input(builder, config, 32, strategy, counts)
    images, labels, weights = next(iter(dataset))
    local = [(l.numpy().tolist(), w.numpy().tolist()) for l, w in zip(strategy.experimental_local_results(labels),
                                                                      strategy.experimental_local_results(weights))]
    print(json.dumps({"replicas": local, "class_weight": class_weights(counts)}))
""")


@pytest.mark.slow
def test_two_logical_cpus_train_with_class_weights_clipping_mixing_accumulation_and_the_weights_average(
    tiny_synthetic, tmp_path):
  result = python("-c", TRAIN, str(tiny_synthetic.data_dir), str(tmp_path / "run"), "class_weight",
                  '{"clipnorm": 1.0, "ema_decay": 0.5, "mixup_alpha": 0.4, "cutmix_alpha": 1.0, '
                  '"accumulation_steps": 2}')
  assert result.returncode == 0, result.stderr[-3000:]
  resolved = read_json(tmp_path / "run" / layout.CONFIG)["resolved"]
  assert (resolved["strategy"], resolved["replicas"]) == ("mirrored", 2)
  rows = history(tmp_path / "run")
  assert [int(row["epoch"]) for row in rows] == [1, 2]
  # The exported model is the average the last validation saw, swapped in and out across the replicas.
  from trainer import data
  exported = keras.saving.load_model(tmp_path / "run" / layout.FINAL_MODEL)
  exported.compile(loss=keras.losses.BinaryCrossentropy())
  val_batches = data.val_input(tiny_synthetic, tiny_config(tmp_path, validation_steps=1), 32)
  assert exported.evaluate(val_batches, verbose=0) == pytest.approx(rows[-1]["val_loss"], rel=1e-5)
  # Micro-batches need a batch that divides among the replicas: refused before any training, saying why.
  result = python("-c", TRAIN, str(tiny_synthetic.data_dir), str(tmp_path / "odd"), "oversample",
                  '{"accumulation_steps": 2, "batch_size": 7}')
  assert result.returncode == 1, result.stderr[-3000:]
  assert ("--accumulation_steps=2 needs a --batch_size that divides evenly among the 2 replicas (--batch_size=7): "
          "pass a multiple of 2.") in result.stderr
  assert not (tmp_path / "odd").exists()


@pytest.mark.slow  # the pipeline test checks the weights on one device, fast
def test_class_weights_reach_every_replica_as_on_one_device(tiny_synthetic, tmp_path):
  import json
  result = python("-c", CLASS_WEIGHTS_PER_REPLICA, str(tiny_synthetic.data_dir), str(tmp_path / "x"), "class_weight")
  assert result.returncode == 0, result.stderr[-3000:]
  seen = json.loads(result.stdout.strip().splitlines()[-1])
  weight = {int(k): v for k, v in seen["class_weight"].items()}
  assert len(seen["replicas"]) == 2
  for labels, weights in seen["replicas"]:
    assert len(labels) == 4  # half of the global batch of 8
    assert weights == pytest.approx([weight[label] for label in labels])  # as on one device


# Keras 3 updates BatchNorm statistics per replica; the trainer averages them before validation.
BATCHNORM_PER_REPLICA = textwrap.dedent("""
    import json
    import numpy as np, keras, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from trainer.distributed import replicas
    strategy = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    with strategy.scope():
      model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(), keras.layers.Dense(1)])
      model.compile("sgd", "mse")
    x = np.concatenate([np.zeros((8, 4)), np.full((8, 4), 10.0)]).astype("float32")  # replica 1 sees the tens
    model.fit(x, np.zeros(16), batch_size=16, epochs=1, verbose=0, shuffle=False)
    mean = model.layers[0].moving_mean
    before = [c.numpy().tolist() for c in strategy.experimental_local_results(mean.value)]
    replicas.average_over_replicas(strategy, replicas.batchnorm_statistics(model))
    after = [c.numpy().tolist() for c in strategy.experimental_local_results(mean.value)]
    shared = replicas.share_numbers(strategy, [3.5, float("nan"), 7.0])
    print(json.dumps({"before": before, "after": after, "statistics": len(replicas.batchnorm_statistics(model)),
                      "shared": [s if s == s else "nan" for s in shared]}))
""")


@pytest.mark.slow
def test_batchnorm_statistics_are_averaged_over_replicas():
  import json
  result = python("-c", BATCHNORM_PER_REPLICA)
  assert result.returncode == 0, result.stderr[-3000:]
  seen = json.loads(result.stdout.strip().splitlines()[-1])
  assert seen["before"][0] != seen["before"][1]  # each replica kept its own (the bug being worked around)
  expected = [(a + b) / 2 for a, b in zip(*seen["before"], strict=True)]
  assert seen["after"][0] == pytest.approx(expected) and seen["after"][1] == seen["after"][0]
  assert seen["statistics"] == 2  # moving mean and variance of the one BatchNorm layer
  assert seen["shared"] == [3.5, "nan", 7.0]
