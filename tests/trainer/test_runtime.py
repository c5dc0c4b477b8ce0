"""Per-device decisions (trainer/runtime.py) on this CPU, and what --deterministic promises end to end."""

import re
import subprocess
import sys

import keras
import numpy as np
import pytest

import pipeline.augment  # noqa: F401  (the saved models hold its layer)
import trainer.metrics  # noqa: F401  (and these metrics)
from cnmc.run_folder import layout
from tests.support.subprocesses import REPO, environment
from tests.trainer.helpers import history
from trainer import runtime
from trainer.errors import TrainerError


def test_auto_on_a_cpu_is_float32_without_xla_on_one_device():
  decided = runtime.decide("auto", "auto", "auto", deterministic=False)
  assert (decided.precision, decided.xla, decided.strategy_name) == ("float32", False, "one_device")
  assert decided.device.startswith("CPU (") and decided.strategy.num_replicas_in_sync == 1
  assert decided.summary() == f"Device: {decided.device}; float32, XLA off, one_device (1 replica(s))."
  assert decided.to_json() == {"device": decided.device, "precision": "float32", "xla": False,
                               "strategy": "one_device", "replicas": 1}


@pytest.mark.parametrize("flag,policy", [("float16", "mixed_float16"), ("bfloat16", "mixed_bfloat16"),
                                         ("float32", "float32")])
def test_an_explicit_precision_is_taken_as_given(flag, policy):
  assert runtime.decide(flag, "off", "one_device", deterministic=False).precision == policy


def test_xla_on_is_kept_unless_deterministic_turns_it_off_with_a_warning(caplog):
  assert runtime.decide("float32", "on", "auto", deterministic=False).xla is True
  caplog.set_level("WARNING")
  assert runtime.decide("float32", "on", "auto", deterministic=True).xla is False
  assert "XLA: off, because --deterministic" in caplog.text


def test_multi_worker_without_a_cluster_says_how_to_form_one():
  with pytest.raises(TrainerError, match="set TF_CONFIG or run under srun"):
    runtime.decide("auto", "auto", "multi_worker", deterministic=False)


@pytest.mark.slow  # two training processes (the kill drill's never-killed twin checks it again, bit for bit)
def test_same_seed_and_deterministic_give_identical_metrics_and_weights(tiny_synthetic, tmp_path):
  # Two processes, as a user reruns a command: `python -m trainer` end to end, flags and all; side by side,
  # since a deterministic result may not depend on what else the machine does.
  processes = [subprocess.Popen([sys.executable, "-m", "trainer", f"--dataset={tiny_synthetic.data_dir}",
                                 "--backbone=small_cnn", "--weights=none", "--image_size=32", "--batch_size=8",
                                 "--epochs=2", "--steps_per_epoch=3", "--validation_steps=1", "--deterministic",
                                 "--seed=7", "--nosaved_model", f"--model_dir={tmp_path / name}"],
                                cwd=REPO, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for name in ("a", "b")]
  for process in processes:
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    # Output to a pipe, as to a log file: plain lines, one per epoch, nothing a terminal would redraw.
    assert not {"\r", "\x1b", "\x08"} & set(stdout + stderr)
    assert len([line for line in stdout.splitlines() if re.match(r"\d+/\d+ - ", line)]) == 2
  first, second = history(tmp_path / "a"), history(tmp_path / "b")
  assert len(first) == 2
  for row_a, row_b in zip(first, second, strict=True):
    for timing in ("images_per_second", "train_seconds"):  # timings, not results
      row_a.pop(timing), row_b.pop(timing)
    assert row_a == row_b  # exactly: bit-identical runs
  weights_a = keras.saving.load_model(tmp_path / "a" / layout.FINAL_MODEL).get_weights()
  weights_b = keras.saving.load_model(tmp_path / "b" / layout.FINAL_MODEL).get_weights()
  for a, b in zip(weights_a, weights_b, strict=True):
    np.testing.assert_array_equal(a, b)


# EfficientNetB3's kernels under op determinism: two models built alike take the same two steps (eagerly: a
# trace of the whole graph would cost a minute), in one process. The command's determinism, data order and all,
# is the test above, with small_cnn.
EFFNET_STEPS_TWICE = """
import json
import numpy as np, keras, tensorflow as tf
tf.config.experimental.enable_op_determinism()
from trainer import backbones
from trainer.config import TrainConfig
from trainer.model import build_classifier, train_step_for
data = np.random.default_rng(0)
images, labels = data.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), data.integers(0, 2, 16)
runs = []
for _ in range(2):
  keras.utils.set_random_seed(3)
  classifier, _ = build_classifier(backbones.get_backbone("effnetb3"), 32, None, 0.3, seed=3)
  model = train_step_for(classifier, TrainConfig(augmentation="cells", seed=3))
  model.compile(keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy(), run_eagerly=True)
  start = [w.numpy().copy() for w in model.trainable_weights]
  losses = model.fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"]
  runs.append(([w.numpy() for w in model.weights], losses, start))
same = all(np.array_equal(a, b) for a, b in zip(runs[0][0], runs[1][0]))
moved = any(not np.array_equal(w.numpy(), s) for w, s in zip(model.trainable_weights, runs[1][2]))
print(json.dumps({"same": same, "moved": moved, "losses": [runs[0][1], runs[1][1]]}))
"""


@pytest.mark.slow
def test_efficientnet_steps_are_bit_identical_under_op_determinism():
  from tests.support.subprocesses import python
  import json
  result = python("-c", EFFNET_STEPS_TWICE)
  assert result.returncode == 0, result.stderr[-3000:]
  seen = json.loads(result.stdout.strip().splitlines()[-1])
  assert seen["moved"] and seen["same"], seen
  assert seen["losses"][0] == seen["losses"][1]
