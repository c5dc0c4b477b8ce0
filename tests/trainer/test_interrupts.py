"""Ctrl-C and SIGTERM (a scheduler's preemption) end a training run in one line that says where it stopped,
what is kept and the command that resumes; that command then loses at most the epoch in progress."""

import json
import shlex
import signal
import subprocess
import sys
import time

import pytest

from cnmc.run_folder import layout
from tests.support.subprocesses import REPO, as_from_a_terminal, environment
from tests.trainer.helpers import history

SMALL = ["--backbone=small_cnn", "--weights=none", "--image_size=32", "--batch_size=8", "--validation_steps=1",
         "--nosaved_model", "--profile_steps=0,0"]


def start_trainer(*flags: str, env: dict | None = None) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, "-m", "trainer", *SMALL, *flags], cwd=REPO, env=environment(**(env or {})),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal)


def wait_for(path, process: subprocess.Popen, timeout: float = 180) -> None:
  deadline = time.monotonic() + timeout
  while not path.exists():
    assert process.poll() is None, process.communicate()
    assert time.monotonic() < deadline, f"{path} never appeared"
    time.sleep(0.1)


def committed(model_dir) -> int:
  """Epochs in the commit record (history.csv follows it a moment later)."""
  return len(json.loads((model_dir / "backup" / layout.STATE).read_text())["history"])


def the_error_line(stderr: str) -> str:
  """The one line on stderr besides progress bars (the dataset build's, redrawn with \\r)."""
  lines = [line for line in stderr.replace("\r", "\n").splitlines()
           if line.strip() and not line.startswith(("Drawing synthetic cells", "Generating", "Shuffling"))]
  assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr[-3000:]
  return lines[0]


def interrupt_mid_run(tiny_synthetic, model_dir, signum, env: dict | None = None) -> tuple[int, str]:
  """Starts a long run, interrupts it once an epoch is committed; (exit status, its error line)."""
  process = start_trainer(f"--dataset={tiny_synthetic.data_dir}", "--epochs=50", "--steps_per_epoch=40",
                          f"--model_dir={model_dir}", env=env)
  wait_for(model_dir / "backup" / layout.STATE, process)
  time.sleep(0.3)
  process.send_signal(signum)
  _, stderr = process.communicate(timeout=120)
  return process.returncode, the_error_line(stderr)


def kept_text(epochs: int) -> str:
  return "epoch 1 is kept" if epochs == 1 else f"epochs 1-{epochs} are kept"


@pytest.mark.slow  # a training process; tests/console/test_exits.py checks the exit itself in a second
def test_ctrl_c_says_where_it_stopped_what_is_kept_and_how_to_resume(tiny_synthetic, tmp_path):
  scratch = tmp_path / "tmp"  # the process's temporary folder
  scratch.mkdir()
  code, line = interrupt_mid_run(tiny_synthetic, tmp_path / "run", signal.SIGINT, env={"TMPDIR": str(scratch)})
  kept = committed(tmp_path / "run")
  assert code == 130 and line.startswith("error: Interrupted (Ctrl-C) ")
  assert not list(scratch.glob("__autograph_generated_file*")), "the quick exit left AutoGraph's files behind"
  assert "of 50" in line and f"{kept_text(kept)} in {tmp_path / 'run'}" in line
  assert "Resume with: python -m trainer --backbone=small_cnn" in line and f"--model_dir={tmp_path / 'run'}" in line
  # The process ends without the interpreter's teardown; every kept epoch's summaries are on disk all the same.
  from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
  events = EventAccumulator(str(tmp_path / "run" / layout.LOGS_DIR / "train"))
  events.Reload()
  assert set(range(1, kept + 1)) <= {event.step for event in events.Tensors("epoch_loss")}


@pytest.mark.slow
def test_sigterm_then_the_given_command_loses_at_most_the_epoch_in_progress(tiny_synthetic, tmp_path):
  code, line = interrupt_mid_run(tiny_synthetic, tmp_path / "run", signal.SIGTERM)
  kept = committed(tmp_path / "run")
  assert code == 143 and line.startswith("error: Terminated (SIGTERM) ") and kept_text(kept) in line
  command = shlex.split(line.split("Resume with: ", 1)[1])
  assert command[:3] == ["python", "-m", "trainer"]
  # The same command, told to stop one epoch later (--epochs may change on resume).
  arguments = [a for a in command[3:] if not a.startswith("--epochs=")] + [f"--epochs={kept + 1}"]
  rerun = subprocess.run([sys.executable, "-m", "trainer", *arguments], cwd=REPO, env=environment(),
                         capture_output=True, text=True, timeout=300)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert f"Resuming {tmp_path / 'run'} after epoch {kept}." in rerun.stdout
  assert [int(row["epoch"]) for row in history(tmp_path / "run")] == list(range(1, kept + 2))


@pytest.mark.slow
def test_ctrl_c_while_the_dataset_builds_discards_the_build_and_leaves_no_run_folder(tmp_path):
  process = subprocess.Popen([sys.executable, "-m", "trainer", *SMALL, f"--data_dir={tmp_path / 'data'}",
                              f"--model_dir={tmp_path / 'run'}"], cwd=REPO, env=environment(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal)
  wait_for(tmp_path / "data" / "downloads", process)  # the synthetic cells are being drawn
  time.sleep(1)
  process.send_signal(signal.SIGINT)
  _, stderr = process.communicate(timeout=120)
  line = the_error_line(stderr)
  assert process.returncode == 130
  assert "while building the dataset cnmc/synthetic: the partial build is discarded" in line
  assert not (tmp_path / "run").exists()
  assert not list((tmp_path / "data").rglob("dataset_info.json"))
