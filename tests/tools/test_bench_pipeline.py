"""The pipeline benchmark runs end to end at a tiny size and reports every figure."""

import json

from tests.support.subprocesses import module, python


def test_bench_pipeline_smoke_run_writes_every_figure(tmp_path):
  output = tmp_path / "bench.json"
  result = module("tools.bench_pipeline", "--image_size=32", "--batch_size=8", "--batches=2", "--warm_epochs=1",
                  "--images_scale=0.005", f"--data_dir={tmp_path / 'data'}", f"--output={output}")
  assert result.returncode == 0, result.stderr[-3000:]
  rates = json.loads(output.read_text())["images_per_second"]
  for name in ("keras3", "keras3_no_augmentation"):
    assert rates[name] > 0
  for name in ("host", "end_to_end_cpu"):
    assert rates[name]["cold"] > 0 and rates[name]["warm"] > 0
  assert len(rates["layers"]) == 4 and all(rate > 0 for rate in rates["layers"].values())
  assert rates["notebook"] > 0  # tf-keras (Keras 2's ImageDataGenerator) is in the test extra
  assert "fused affine / keras-cv chain" in result.stdout


def test_without_tf_keras_the_notebook_baseline_is_reported_missing_not_made_up():
  script = ("import sys; sys.modules['tf_keras'] = None\n"
            "from tools.bench_pipeline import measure_notebook_baseline\n"
            "print('NOTEBOOK', measure_notebook_baseline('/nonexistent', 32, 8, 2))")
  result = python("-c", script)
  assert "NOTEBOOK None" in result.stdout, result.stderr[-2000:]
  assert "`notebook` extra" in result.stderr  # the warning names the extra to install
