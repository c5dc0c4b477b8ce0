"""The recipe cost benchmark: the chosen variants timed in turns, the costs relative to the plain step."""

import json

import pytest

from tests.support import in_process


@pytest.mark.slow  # three models traced
def test_the_chosen_variants_are_timed_against_the_plain_step_and_the_command_writes_them(tmp_path):
  output = tmp_path / "recipe.json"
  result = in_process.module("tools.bench_recipe", "--backbone=small_cnn", "--image_size=16", "--batch_size=4",
                             "--steps=2", "--rounds=2", "--variants=warmup,all", f"--output={output}")
  assert result.returncode == 0, result.stderr[-3000:]
  document = json.loads(output.read_text())
  assert list(document["variants"]) == ["plain", "warmup", "all"]  # the reference always; "all" has every feature
  assert document["variants"]["plain"]["vs_plain"] == 1.0
  assert all(row["ms_per_step"] > 0 and row["vs_plain"] > 0 for row in document["variants"].values())
  assert (document["settings"]["xla"], document["settings"]["precision"]) == (False, "float32")  # this CPU's defaults
  assert "all" in result.stdout and "vs plain" in result.stdout


def test_an_unknown_variant_is_refused_in_one_line(tmp_path):
  result = in_process.module("tools.bench_recipe", "--variants=plain,dropout", f"--output={tmp_path}/x.json")
  assert result.returncode == 1 and "--variants: dropout is not a variant" in result.stderr
  assert "Traceback" not in result.stderr and not (tmp_path / "x.json").exists()
