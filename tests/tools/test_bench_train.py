"""The training benchmark runs both approaches at a tiny size and reads the profile."""

import json

from tests.support.subprocesses import module


def test_bench_train_smoke_run(tmp_path):
  output = tmp_path / "bench.json"
  result = module("tools.bench_train", "--image_size=32", "--batch_size=8", "--steps=6", "--images_scale=0.005",
                  f"--data_dir={tmp_path / 'data'}", f"--output={output}")
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(output.read_text())
  assert report["notebook_images_per_second"] > 0  # tf-keras is in the test extra
  assert report["system"]["images_per_second"] > 0
  profile = report["system"]["profile"]
  assert profile["steps_seen"] >= 1 and 0 <= profile["input_wait_share"] <= 1
  assert "full system / notebook" in result.stdout
