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
  # The seed baseline needs the optional `baseline` extra; without it the figure is absent, not made up.
  assert rates["seed"] is None or rates["seed"] > 0
  assert "fused affine / keras-cv chain" in result.stdout
