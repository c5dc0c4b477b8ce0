"""The recipe cost benchmark: every variant timed in turns, the costs relative to the plain step."""

import json

import pytest

from benchmarks import recipe_costs
from tests.support import in_process


@pytest.mark.slow  # nine models traced
def test_every_variant_is_timed_against_the_plain_step_and_the_command_writes_it(tmp_path):
  output = tmp_path / "recipe.json"
  result = in_process.module("tools.bench_recipe", "--backbone=small_cnn", "--image_size=16", "--batch_size=4",
                             "--steps=2", "--rounds=2", f"--output={output}")
  assert result.returncode == 0, result.stderr[-3000:]
  document = json.loads(output.read_text())
  assert list(document["variants"]) == list(recipe_costs.VARIANTS)
  assert document["variants"]["plain"]["vs_plain"] == 1.0
  assert all(row["ms_per_step"] > 0 and row["vs_plain"] > 0 for row in document["variants"].values())
  assert (document["settings"]["xla"], document["settings"]["precision"]) == (False, "float32")  # this CPU's defaults
  assert "cutmix" in result.stdout and "vs plain" in result.stdout
