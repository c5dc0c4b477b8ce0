"""The in-process command runner (tests/support/in_process.py) that most command tests rely on: each run
sees the flags a new process would, and leaves this process as it found it."""

import os
import signal
import sys

from absl import flags

from tests.support import in_process


def state() -> tuple:
  """What a command changes: the flags and the modules that define them, environment, folder, handlers."""
  return (sorted(flags.FLAGS), sorted(flags.FLAGS.flags_by_module_dict()), "cnmc.cli.model_flags" in sys.modules,
          "tools.predict" in sys.modules, dict(os.environ), os.getcwd(), signal.getsignal(signal.SIGTERM))


def test_a_run_leaves_the_test_process_as_it_was():
  before = state()
  result = in_process.module("tools.predict", "--model_dir=/nonexistent/run", "--verbosity=1")
  assert result.returncode == 1 and result.stdout == ""
  assert result.stderr.splitlines()[-1].startswith("error: --model_dir=/nonexistent/run: no such folder")
  assert state() == before


def test_each_run_starts_from_the_defaults_not_the_last_runs_flags(tmp_path):
  first = in_process.module("tools.cross_validate", "--val_split=fold_1", f"--cv_dir={tmp_path}")
  assert first.returncode == 1 and "--val_split" in first.stderr
  # --val_split not given now: the first fold run starts (and stops at once: cnmc/real is not built there).
  second = in_process.module("tools.cross_validate", f"--cv_dir={tmp_path}", "--seed=0", "--dataset=cnmc/real",
                             f"--data_dir={tmp_path}/data")
  command = next(line for line in second.stdout.splitlines() if " -m trainer " in line).split()
  assert [a for a in command if a.startswith("--val_split")] == ["--val_split=fold_0"]  # the tool's, per run
  assert second.returncode == 1 and second.stderr.splitlines()[-1].startswith(f"error: Training in {tmp_path}")


def test_commands_that_define_the_same_flag_names_run_one_after_the_other():
  for name in ("tools.evaluate", "tools.predict", "tools.gradcam", "trainer"):  # --split, --seed, --model_dir ...
    result = in_process.module(name, "--no_such_flag")
    assert result.returncode == 1 and "Unknown command line flag 'no_such_flag'" in result.stderr, (name, result)
