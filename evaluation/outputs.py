"""Output folders that appear complete or not at all."""

import contextlib
import os
import shutil


@contextlib.contextmanager
def atomic_output_dir(path: str):
  """Yields a scratch folder beside `path`; on success it replaces `path`, on any error it is removed.

  A run that fails half-way leaves no folder that looks like a finished result.
  """
  path = os.path.normpath(path)
  scratch = f"{path}.partial"
  shutil.rmtree(scratch, ignore_errors=True)
  os.makedirs(scratch)
  try:
    yield scratch
  except BaseException:
    shutil.rmtree(scratch, ignore_errors=True)
    raise
  shutil.rmtree(path, ignore_errors=True)
  os.replace(scratch, path)
