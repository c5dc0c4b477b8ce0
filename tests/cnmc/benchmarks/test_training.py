"""The training benchmark: both approaches measured in this process, the ratio computed from their rates."""

import json

import pytest

from cnmc.benchmarks import training as bench_train
from tests.support import in_process


@pytest.mark.slow  # both approaches train three epochs: ~11 s
def test_both_rates_are_measured_and_the_ratio_comes_from_them(benchmark_data, tmp_path):
  builder, folder = benchmark_data
  notebook = bench_train.measure_notebook(folder, "small_cnn", 32, 4, steps=3)
  system = bench_train.measure_system(str(tmp_path), builder, "small_cnn", 32, 4, steps=3)
  document = json.loads(json.dumps(bench_train.report(notebook, system, {"backbone": "small_cnn"})))
  assert set(document) == {"settings", "notebook_images_per_second", "system", "system_vs_notebook"}
  assert document["notebook_images_per_second"] > 0 and document["system"]["images_per_second"] > 0
  assert document["system_vs_notebook"] == pytest.approx(system["images_per_second"] / notebook)
  profile = document["system"]["profile"]  # the third epoch's profile, read back
  assert profile["steps_seen"] >= 1 and 0 <= profile["input_wait_share"] <= 1
  assert bench_train.report(None, system, {})["system_vs_notebook"] is None  # no baseline, no ratio


@pytest.mark.slow
def test_the_command_prints_and_writes_the_comparison(benchmark_command_data, tmp_path):
  output = tmp_path / "bench.json"
  result = in_process.module("tools.bench_train", "--backbone=small_cnn", "--image_size=32", "--batch_size=4",
                             "--steps=3", *benchmark_command_data, f"--output={output}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads(output.read_text())["system_vs_notebook"] > 0
  assert "full system / notebook" in result.stdout


@pytest.mark.slow
def test_the_overhead_command_times_trainer_and_bare_fit_and_reports_their_ratios(benchmark_command_data,
                                                                                             tmp_path):
  output = tmp_path / "overhead.json"
  result = in_process.module("tools.bench_overhead", "--backbone=small_cnn", "--image_size=32", "--batch_size=4",
                             "--steps=3", "--rounds=1", *benchmark_command_data, f"--output={output}")
  assert result.returncode == 0, result.stderr[-3000:]
  found = json.loads(output.read_text())
  (trainer,), (bare,) = found["rounds"]["trainer"], found["rounds"]["bare"]
  assert found["step_ratio"] == pytest.approx(trainer["ms_per_step"] / bare["ms_per_step"])
  assert found["epoch_ratio"] == pytest.approx(trainer["seconds_per_epoch"] / bare["seconds_per_epoch"])
  assert found["trainer"] == trainer and found["bare"] == bare
  assert all(r["ms_per_step"] > 0 and r["seconds_per_epoch"] > 0 for r in (trainer, bare))
  assert "trainer / bare (median of the rounds' ratios): step " in result.stdout
