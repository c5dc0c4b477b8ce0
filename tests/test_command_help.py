"""Every command's --help lists its own flags and the shared ones, each number with its range, without
starting TensorFlow; a number out of range or a flag a tool cannot honour is refused in one line."""

import pytest

from tests.support import in_process
from tests.support.subprocesses import python

# python -c CHECK <module> <flag>: runs the command with the flag (--help, --helpxml), then says whether
# TensorFlow was imported.
CHECK = """
import runpy, sys
sys.argv = sys.argv[1:3]
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
    "tools.calibrate": ["--threshold_rule", "--model_dir", "--split"],
    "tools.gradcam": ["--count", "--model_dir", "--dataset"],
    "tools.cross_validate": ["--cv_dir", "--folds", "--backbone", "--epochs"],
    "tools.leakage_demo": ["--demo_dir", "--backbone"],
    "tools.bench_pipeline": ["--batches", "--images_scale", "--data_dir"],
    "tools.bench_train": ["--steps", "--images_scale"],
    "tools.bench_recipe": ["--steps", "--rounds", "--backbone"],
    "tools.bench_overhead": ["--steps", "--rounds", "--backbone", "--images_scale"],
    "tools.audit": ["--cv_dir", "--output_dir", "--count", "--batch_size"],
    "tools.launch_local": ["--workers", "--gpus"],
    "tools.compare_tricks": ["--compare_dir", "--seeds", "--score_split", "--backbone"],
    "tools.compare_recipe": ["--compare_dir", "--seeds", "--score_split", "--backbone", "--epochs"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_the_commands_flags_with_their_ranges_and_does_not_start_tensorflow(command):
  import xml.etree.ElementTree as ElementTree
  result = python("-c", CHECK, command, "--helpxml")  # what --help shows, as XML
  xml, last_line = result.stdout.rstrip().rsplit("\n", 1)
  assert last_line == "no tensorflow", result.stderr[-2000:]
  flags = {flag.findtext("name"): flag for flag in ElementTree.fromstring(xml).iter("flag")}
  listed = {name for name, flag in flags.items() if flag.findtext("key") == "yes"}  # what --help lists
  assert {name[2:] for name in COMMANDS[command]} <= listed, listed
  numeric = [flag for flag in flags.values()
             if flag.findtext("type") in ("int", "float") and not flag.findtext("file").startswith("absl")]
  unbounded = [flag.findtext("name") for flag in numeric
               if flag.find("lower_bound") is None and flag.find("upper_bound") is None]
  assert numeric and not unbounded, f"{command}: {unbounded} accept any number"


@pytest.mark.parametrize("command, flag", [
    ("trainer", "--learning_rate=-0.1"), ("trainer", "--fine_tune_learning_rate=0"), ("trainer", "--dropout=1"),
    ("trainer", "--batch_size=0"), ("trainer", "--seed=-1"), ("trainer", "--ema_decay=1"),
    ("trainer", "--mixup_alpha=-1"), ("trainer", "--mix_probability=2"), ("tools.evaluate", "--threshold=1.5"),
    ("tools.bench_train", "--images_scale=0"), ("tools.cross_validate", "--epochs=0"),
    ("tools.compare_tricks", "--seeds=1,x"), ("tools.gradcam", "--count=0")])
def test_a_number_out_of_range_is_refused_in_one_line_naming_the_flag(command, flag):
  result = in_process.module(command, flag)
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert result.returncode == 1 and len(lines) == 1, result.stderr[-2000:]
  assert lines[0].startswith(f"error: flag {flag}") or lines[0].startswith(f"error: flag {flag.split('=')[0]}=")


@pytest.mark.parametrize("command, flag", [("tools.gradcam", "--tta"), ("tools.gradcam", "--neighbours=3")])
def test_a_flag_a_tool_cannot_honour_is_refused(command, flag):
  result = in_process.module(command, flag)
  assert result.returncode == 1 and "Unknown command line flag" in result.stderr and "Traceback" not in result.stderr
