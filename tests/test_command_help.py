"""Every command's --help lists its own flags and the shared ones, without starting TensorFlow."""

import pytest

from tests.support.subprocesses import python

CHECK = """
import runpy, sys
sys.argv = [sys.argv[1], "--help"]
try:
  runpy.run_module(sys.argv[0], run_name="__main__")
except SystemExit:
  pass
print("TENSORFLOW IMPORTED" if "tensorflow" in sys.modules else "no tensorflow")
"""

COMMANDS = {
    "trainer": ["--backbone", "--model_dir", "--deterministic", "--balance"],
    "tools.evaluate": ["--split", "--model_dir", "--output_dir", "--tta", "--neighbour_correction", "--neighbours"],
    "tools.predict": ["--images", "--model", "--threshold"],
    "tools.gradcam": ["--count", "--model_dir", "--dataset"],
    "tools.cross_validate": ["--cv_dir", "--folds", "--backbone", "--epochs"],
    "tools.leakage_demo": ["--demo_dir", "--backbone"],
    "tools.bench_pipeline": ["--batches", "--images_scale", "--data_dir"],
    "tools.bench_train": ["--steps", "--images_scale"],
    "tools.launch_local": ["--workers", "--gpus"],
    "tools.compare_tricks": ["--compare_dir", "--seeds", "--score_split", "--backbone"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_the_commands_flags_and_does_not_start_tensorflow(command):
  result = python("-c", CHECK, command)
  for flag in COMMANDS[command]:  # absl lists a boolean flag as --[no]name
    assert f"{flag}:" in result.stdout or f"--[no]{flag[2:]}:" in result.stdout, (flag, result.stdout[-2000:])
  assert result.stdout.strip().endswith("no tensorflow"), result.stderr[-2000:]
