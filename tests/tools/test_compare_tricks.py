"""tools.compare_tricks end to end on the tiny set: four runs per seed, every method scored, the table."""

import json

import pytest

from cnmc.run_folder import layout
from cnmc.evaluation import tricks
from tests.support import in_process
from tests.support.subprocesses import module


@pytest.mark.slow
def test_the_comparison_trains_scores_and_writes_the_table(tiny_synthetic, tmp_path):
  out = tmp_path / "tricks"
  result = in_process.module("tools.compare_tricks", f"--dataset={tiny_synthetic.data_dir}", "--seeds=4", "--epochs=1",
                             "--steps_per_epoch=2", "--image_size=32", "--batch_size=8", f"--compare_dir={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
      "seed4-optical_density", "seed4-rgb", "seed4-rgb_second_seed", "seed4-stain_normalised"]
  flags = json.loads((out / "seed4-optical_density" / layout.CONFIG).read_text())["flags"]
  assert (flags["input_transform"], flags["seed"]) == ("optical_density", 4)
  assert flags["train_splits"] == ["fold_0", "fold_1"]
  assert json.loads((out / "seed4-rgb_second_seed" / layout.CONFIG).read_text())["flags"]["seed"] == 104
  results = json.loads((out / "tricks.json").read_text())
  assert list(results["summary"]) == list(tricks.METHODS) and results["scored_on"] == "validation"
  chosen = results["neighbours_chosen_on_fold_2"]["4"]
  assert chosen["k"] in tricks.NEIGHBOUR_GRID["k"] and chosen["weight"] in tricks.NEIGHBOUR_GRID["weight"]
  table = (out / "tricks.md").read_text()
  assert all(method in table for method in tricks.METHODS) and "| method | weighted F1" in table


def test_the_splits_and_seeds_are_the_tools_own(tmp_path):
  result = in_process.module("tools.compare_tricks", "--seed=3", f"--compare_dir={tmp_path}")
  assert result.returncode == 1 and result.stderr.splitlines()[-1] == (
      "error: --seed: this tool sets the training and validation splits and each run's folder, and --seed, "
      "--input_transform, itself.")
  assert not (tmp_path / "seed3-rgb").exists()


@pytest.mark.slow  # the tool starts a trainer
def test_quick_is_passed_on_and_not_overridden_by_the_cpu_sized_settings(tmp_path):
  # cnmc/real is not built in an empty data folder: the first run fails at once, after its command is printed.
  result = in_process.module("tools.compare_tricks", "--quick", "--dataset=cnmc/real", f"--data_dir={tmp_path}/data",
                             "--seeds=1", f"--compare_dir={tmp_path}/tricks")
  command = next(line for line in result.stdout.splitlines() if " -m trainer " in line)
  assert "--backbone=small_cnn" in command and "--weights=none" in command  # CPU-sized, not given
  assert "--epochs=2" in command and "--image_size=96" in command and "--steps_per_epoch=4" in command  # --quick's
  assert result.returncode == 1 and "Traceback" not in result.stderr


def test_help_gives_the_defaults_the_runs_use():
  result = module("tools.compare_tricks", "--help", timeout=60)
  usage = result.stdout.split("flags:")[0]
  assert "take the CPU-sized values: --backbone=small_cnn, --weights=none, --image_size=64" in usage.replace("\n", " ")
