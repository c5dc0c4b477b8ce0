"""MirroredStrategy over two logical CPU devices trains (TF must be configured before it starts)."""

import os
import pathlib
import subprocess
import sys
import textwrap

from tests.trainer.helpers import history, read_json

REPO = pathlib.Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import tensorflow_datasets as tfds
    from trainer.train import run
    from tests.trainer.helpers import tiny_config
    builder = tfds.builder_from_directory(sys.argv[1])
    run(tiny_config(sys.argv[2], strategy="mirrored", steps_per_epoch=2, validation_steps=1), builder=builder)
""")


def test_mirrored_strategy_over_two_logical_cpus(tiny_synthetic, tmp_path):
  result = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_synthetic.data_dir), str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert result.returncode == 0, result.stderr[-3000:]
  resolved = read_json(tmp_path / "config.json")["resolved"]
  assert resolved["strategy"] == "mirrored" and resolved["replicas"] == 2
  assert [int(row["epoch"]) for row in history(tmp_path)] == [0, 1]
