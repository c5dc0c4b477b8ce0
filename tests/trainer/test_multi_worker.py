"""Real multi-worker training on 127.0.0.1: several trainer processes, one model, one run folder.

Each test starts real processes (small_cnn, 32 px, a few steps) with TF_CONFIG, through
tools.launch_local or by hand, as a user would on two machines.
"""

import json
import re
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import pipeline.augment  # noqa: F401  (the saved models hold its layer)
import trainer.metrics  # noqa: F401
from cnmc.run_folder import layout
from tests.support.pictures import assert_picture
from tests.support.subprocesses import REPO, as_from_a_terminal, environment, module
from tests.trainer.helpers import best_epoch, history, read_json
from tools.launch_local import free_ports, tf_config

pytestmark = pytest.mark.slow

DIE = str(REPO / "tests" / "support" / "train_and_die.py")
FINGERPRINT = re.compile(r"worker (\d) of 2 .*final weights identical to the chief's \(fingerprint (\w+)\)")


def trainer_flags(model_dir, epochs=2, **extra) -> list[str]:
  settings = dict(backbone="small_cnn", weights="none", image_size=32, batch_size=8, epochs=epochs,
                  steps_per_epoch=3, validation_steps=2, profile_steps="0,0", peer_timeout=20, model_dir=model_dir)
  settings.update(extra)
  return [f"--{k}={v}" for k, v in settings.items()] + ["--nosaved_model"]


def test_two_workers_train_one_model_into_one_run_folder(tiny_synthetic, tmp_path):
  run, scratch = tmp_path / "run", tmp_path / "tmp"
  scratch.mkdir()
  result = module("tools.launch_local", "--workers=2", "--", f"--dataset={tiny_synthetic.data_dir}",
                  *trainer_flags(run, balance="class_weight"), env={"TMPDIR": str(scratch)}, timeout=600)
  output = result.stdout + result.stderr
  assert result.returncode == 0, output[-4000:]
  # One run: each epoch once, the results, models that load, the pictures; written by the chief only.
  assert [int(row["epoch"]) for row in history(run)] == [1, 2]
  results = read_json(run / layout.RESULTS)
  assert results["best_epoch"] == best_epoch(run)
  resolved = read_json(run / layout.CONFIG)["resolved"]
  assert (resolved["strategy"], resolved["replicas"]) == ("multi_worker", 2)
  images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
  for name in (layout.BEST_MODEL, layout.FINAL_MODEL):
    assert keras.saving.load_model(run / name).predict(images, verbose=0).shape == (2, 1)
  assert_picture(run / "augmented_samples.png", run / "logs" / "train", "augmented_samples")
  assert_picture(run / "confusion_matrix.png", run / "logs" / "validation", "confusion_matrix", results["best_epoch"])
  # The second worker wrote nothing there and removed its own folder.
  assert not list(scratch.iterdir()), list(scratch.iterdir())
  assert "Done: worker 1 of 2" in output and "[launcher] the chief exited with status 0." in output
  # Quiet by default: no library log line from either worker (TensorFlow's collectives logged ~70 before).
  assert not re.search(r"^\[worker \d\] ([IWE]\d{4} |WARNING: All log messages)", output, re.M), output[-3000:]
  # Both workers hold the same weights at the end (each checks its own against the chief's).
  fingerprints = dict(FINGERPRINT.findall(output))
  assert set(fingerprints) == {"0", "1"} and fingerprints["0"] == fingerprints["1"], output[-3000:]


def workers(dataset, model_dir, points: list[str], port_list: list[int], epochs: int) -> list[subprocess.Popen]:
  """One train_and_die process per kill point, as the workers of one cluster."""
  addresses = [f"127.0.0.1:{port}" for port in port_list]
  return [subprocess.Popen([sys.executable, DIE, str(dataset), point, f"--dataset={dataset}",
                            *trainer_flags(model_dir, epochs=epochs, peer_timeout=10)],
                           cwd=REPO, env=environment(TF_CONFIG=tf_config(addresses, index)),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
          for index, point in enumerate(points)]


def test_a_killed_worker_stops_the_other_with_a_message_and_a_rerun_resumes(tiny_synthetic, tmp_path):
  dataset, run, ports = tiny_synthetic.data_dir, tmp_path / "run", free_ports(2)
  started = time.monotonic()
  chief, dying = workers(dataset, run, ["none", "batch:1:1"], ports, epochs=3)  # dies inside epoch 2
  chief_output = chief.communicate(timeout=300)[0]
  dying.wait(timeout=60)
  assert dying.returncode == -9
  assert chief.returncode == 1 and time.monotonic() - started < 240, chief_output[-3000:]
  message = chief_output.strip().splitlines()[-1]
  assert "worker 0 of 2 (the chief, from TF_CONFIG): lost contact with the other workers" in message, message
  assert f"worker 1 at 127.0.0.1:{ports[1]}" in message and "resumes" in message, chief_output[-3000:]
  assert [int(row["epoch"]) for row in history(run)] == [1]  # epoch 1 was committed, epoch 2 was not

  again = workers(dataset, run, ["none", "none"], free_ports(2), epochs=3)
  outputs = [process.communicate(timeout=300)[0] for process in again]
  assert [process.returncode for process in again] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
  assert f"Resuming {run} after epoch 1." in outputs[0] and f"Resuming {run} after epoch 1." in outputs[1]
  assert [int(row["epoch"]) for row in history(run)] == [1, 2, 3]
  assert read_json(run / layout.RESULTS)["best_epoch"] == best_epoch(run)


@pytest.mark.parametrize("index", [0, 1])  # the cluster's leader, and a worker that cannot reach it
def test_a_worker_without_its_peer_stops_within_the_timeout(tiny_synthetic, tmp_path, index):
  addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
  started = time.monotonic()
  result = module("trainer", f"--dataset={tiny_synthetic.data_dir}", *trainer_flags(tmp_path / "run", peer_timeout=5),
                  env={"TF_CONFIG": tf_config(addresses, index)}, timeout=120)
  assert result.returncode == 1 and time.monotonic() - started < 90
  message = result.stderr.strip().splitlines()[-1]  # the last word is the trainer's
  assert message.startswith(f"error: worker {index} of 2") and "within --peer_timeout=5 s" in message, message
  assert all(address in message for address in addresses)


def test_the_launcher_returns_the_chiefs_status_and_stops_the_others(tiny_synthetic, tmp_path):
  """A chief that fails at once (a flag only it checks: its run folder holds other settings)."""
  run = tmp_path / "run"
  run.mkdir()
  (run / layout.CONFIG).write_text(json.dumps({"flags": {"backbone": "effnetb3"}}))
  (run / "backup").mkdir()  # an epoch was committed: the settings bind
  (run / "backup" / layout.STATE).write_text(json.dumps({"history": [{"epoch": 0}]}))
  started = time.monotonic()
  result = module("tools.launch_local", "--workers=2", "--", f"--dataset={tiny_synthetic.data_dir}",
                  *trainer_flags(run, peer_timeout=120), timeout=300)
  assert result.returncode == 1 and time.monotonic() - started < 120, result.stdout[-3000:]
  assert "[worker 0] error: --model_dir=" in result.stdout and "holds a run with other settings" in result.stdout
  assert "[launcher] the chief exited with status 1" in result.stdout


def test_an_interrupted_launcher_stops_every_worker(tiny_synthetic, tmp_path):
  import signal
  run = tmp_path / "run"
  launcher = subprocess.Popen([sys.executable, "-m", "tools.launch_local", "--workers=2", "--",
                               f"--dataset={tiny_synthetic.data_dir}", *trainer_flags(run, epochs=200)],
                              cwd=REPO, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=as_from_a_terminal)
  lines = []
  for line in launcher.stdout:  # wait until both train
    lines.append(line)
    if sum("Epoch 2/" in seen for seen in lines) >= 2:
      break
  started = time.monotonic()
  launcher.send_signal(signal.SIGINT)
  rest = launcher.communicate(timeout=120)[0]
  assert launcher.returncode == 130 and time.monotonic() - started < 60
  assert "error: Interrupted (Ctrl-C): every worker was stopped" in rest and "Traceback" not in rest
  survivors = subprocess.run(["pgrep", "-f", str(run)], capture_output=True, text=True).stdout.split()
  assert not survivors, survivors
