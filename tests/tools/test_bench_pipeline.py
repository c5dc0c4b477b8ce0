"""The pipeline benchmark runs end to end at a tiny size and reports every figure."""

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_bench_pipeline_smoke_run_writes_every_figure(tmp_path):
  output = tmp_path / "bench.json"
  result = subprocess.run(
      [sys.executable, "-m", "tools.bench_pipeline", "--image_size=32", "--batch_size=8", "--batches=2",
       "--warm_epochs=1", "--images_scale=0.005", f"--data_dir={tmp_path / 'data'}", f"--output={output}"],
      cwd=REPO, capture_output=True, text=True, timeout=600,
      env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert result.returncode == 0, result.stderr[-3000:]
  rates = json.loads(output.read_text())["images_per_second"]
  for name in ("keras3", "keras3_no_augmentation"):
    assert rates[name] > 0
  for name in ("host", "end_to_end_cpu"):
    assert rates[name]["cold"] > 0 and rates[name]["warm"] > 0
  assert len(rates["layers"]) == 4 and all(rate > 0 for rate in rates["layers"].values())
  assert rates["notebook"] > 0  # tf-keras (Keras 2's ImageDataGenerator) is in the test extra
  assert "fused affine / keras-cv chain" in result.stdout


def test_without_tf_keras_the_seed_baseline_is_reported_missing_not_made_up():
  script = ("import sys; sys.modules['tf_keras'] = None\n"
            "from tools.bench_pipeline import measure_notebook_baseline\n"
            "print('NOTEBOOK', measure_notebook_baseline('/nonexistent', 32, 8, 2))")
  result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert "SEED None" in result.stdout, result.stderr[-2000:]
  assert "baseline" in result.stderr  # the warning names the extra to install
