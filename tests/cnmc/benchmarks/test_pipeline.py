"""The pipeline benchmark: every rate is measured, and every ratio in its JSON comes from those rates."""

import json

import pytest

from cnmc.benchmarks import pipeline as bench_pipeline
from tests.support import in_process
from tests.support.subprocesses import python

RATES = {"notebook", "keras3", "keras3_no_augmentation", "host", "end_to_end_cpu", "layers"}
LAYERS = {"fused_affine_xla", "keras_cv_affine_chain", "fused_colour_xla", "keras_cv_colour_chain_xla"}


@pytest.fixture(scope="module")
def measured(benchmark_data):
  """Every measuring function, in this process, for two batches of 16 px cells."""
  builder, folder = benchmark_data
  return bench_pipeline.measure_all(builder, folder, size=16, batch=4, batches=2, warm_epochs=1,
                                    progress=lambda *args, **kwargs: None)


@pytest.mark.slow  # `measured` compiles every baseline and layer: ~12 s
def test_the_report_holds_every_rate_and_ratios_computed_from_them(measured):
  document = json.loads(json.dumps(bench_pipeline.report(measured, {"image_size": 16})))  # as written
  assert set(document) == {"settings", "images_per_second", "ratios"}
  rates = document["images_per_second"]
  assert set(rates) == RATES and set(rates["layers"]) == LAYERS
  assert set(rates["host"]) == set(rates["end_to_end_cpu"]) == {"cold", "warm"}
  flat = [rates["notebook"], rates["keras3"], rates["keras3_no_augmentation"], *rates["host"].values(),
          *rates["end_to_end_cpu"].values(), *rates["layers"].values()]
  assert all(rate > 0 for rate in flat)  # tf-keras (the notebook baseline) is in the test extra
  ratios = document["ratios"]
  assert ratios["vs_notebook"]["host_warm"] == pytest.approx(rates["host"]["warm"] / rates["notebook"])
  assert ratios["vs_keras3"]["end_to_end_cpu_cold"] == pytest.approx(rates["end_to_end_cpu"]["cold"] / rates["keras3"])
  assert ratios["vs_notebook"]["notebook"] == pytest.approx(1.0)
  assert ratios["fused_affine_vs_keras_cv"] == pytest.approx(
      rates["layers"]["fused_affine_xla"] / rates["layers"]["keras_cv_affine_chain"])
  table = bench_pipeline.table(measured)
  assert f"{ratios['fused_colour_vs_keras_cv']:.1f}x" in table and len(table.splitlines()) == 13


@pytest.mark.slow
def test_ratios_against_a_missing_baseline_are_not_made_up(measured):
  without = {**measured, "notebook": None}
  ratios = bench_pipeline.ratios(without)
  assert set(ratios["vs_notebook"].values()) == {None}
  assert ratios["vs_keras3"]["host_warm"] == pytest.approx(measured["host"]["warm"] / measured["keras3"])
  assert "n/a" in bench_pipeline.table(without).splitlines()[1]


def test_without_tf_keras_the_notebook_baseline_is_reported_missing_not_made_up():
  script = ("import sys; sys.modules['tf_keras'] = None\n"
            "from cnmc.benchmarks.pipeline import measure_notebook_baseline\n"
            "print('NOTEBOOK', measure_notebook_baseline('/nonexistent', 32, 8, 2))")
  result = python("-c", script)
  assert "NOTEBOOK None" in result.stdout, result.stderr[-2000:]
  assert "`notebook` extra" in result.stderr  # the warning names the extra to install


@pytest.mark.slow
def test_the_command_writes_the_report(benchmark_command_data, tmp_path):
  output = tmp_path / "bench.json"
  result = in_process.module("tools.bench_pipeline", "--image_size=16", "--batch_size=4", "--batches=2",
                             "--warm_epochs=1", *benchmark_command_data, f"--output={output}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert set(json.loads(output.read_text())) == {"settings", "images_per_second", "ratios"}
  assert "fused affine / keras-cv chain" in result.stdout
