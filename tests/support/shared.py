"""What the pytest-xdist workers of one test run make once and share (a dataset build, a trained run)."""

import pathlib

from cnmc.storage.locks import ProcessLock


def run_folder(tmp_path_factory, worker_id: str) -> pathlib.Path:
  """The temporary folder of the whole test run: each worker's own folder sits in it (one process: its own)."""
  base = tmp_path_factory.getbasetemp()
  return base if worker_id == "master" else base.parent


def made_once(folder: pathlib.Path, make):
  """make(folder), one worker at a time: the first makes it, the next finds it made. `make` must take a complete
  result as it is (and only read it) and leave nothing that looks complete if it fails."""
  with ProcessLock(f"{folder}.lock", wait=True):
    return make(folder)
