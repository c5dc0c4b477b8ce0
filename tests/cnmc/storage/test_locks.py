"""One process per folder: a second is refused naming the first; a killed holder leaves no stale lock."""

import os
import signal
import subprocess
import sys
import time

import pytest

from cnmc.storage import locks

HOLD = "import sys, time; from cnmc.storage import locks; lock = locks.folder_lock(sys.argv[1], 'test'); " \
       "print('held', flush=True); time.sleep(60)"


def _holder(folder):
  from tests.support.subprocesses import REPO, environment
  process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], cwd=REPO, env=environment(),
                             stdout=subprocess.PIPE, text=True)
  assert process.stdout.readline().strip() == "held"
  return process


def test_a_second_process_is_refused_while_the_first_holds_the_folder(tmp_path):
  process = _holder(tmp_path)
  try:
    with pytest.raises(locks.LockBusy, match=f"pid {process.pid}"):
      locks.folder_lock(str(tmp_path), "training run")
  finally:
    process.send_signal(signal.SIGKILL)
    process.wait()
  with locks.folder_lock(str(tmp_path), "training run"):  # the kernel released the dead holder's lock
    assert f"pid {os.getpid()} on " in (tmp_path / locks.LOCK_FILE).read_text()  # the holder, while it holds
  assert (tmp_path / locks.LOCK_FILE).read_text() == ""  # released: it names no process that may be gone


def test_waiting_for_a_lock_calls_back_then_gets_it(tmp_path):
  process = _holder(tmp_path)
  waited = []
  try:
    started = time.monotonic()
    subprocess.Popen(["sh", "-c", f"sleep 1; kill -9 {process.pid}"])
    with locks.ProcessLock(str(tmp_path / ".lock"), wait=True, on_wait=waited.append):
      assert time.monotonic() - started > 0.5
  finally:
    process.kill()
    process.wait()
  assert waited and f"pid {process.pid}" in waited[0]
