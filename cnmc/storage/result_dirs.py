"""Result folders of the tools: complete or absent, and never a folder the tool did not make.

A result is written into `<folder>.partial`, marked with a manifest naming the tool, then swapped in
for the previous result (`atomic.replace_dir`). A folder that is the model's run, holds the model,
contains either, or holds anything that is not a previous result of the same tool is refused before
any work starts, so nothing a user made is ever deleted.
"""

import contextlib
import json
import os
import shutil

from cnmc.storage import atomic, locks

MANIFEST = ".cnmc-result.json"


class UnsafeResultDir(Exception):
  """The output folder would replace something the tool did not make; the message says what."""


def _contains(folder: str, path: str) -> bool:
  folder, path = os.path.realpath(folder), os.path.realpath(path)
  return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_result_dir(path: str, tool: str, protected: dict[str, str]) -> str:
  """Refuses an output folder the tool may not replace; returns it absolute.

  protected: {"the model": path, "the run folder": path, ...}: the folder may neither be nor contain
  any of them. An existing folder must be a previous result of `tool` (its manifest says so).
  """
  path = os.path.abspath(path)
  for what, protected_path in protected.items():
    if protected_path and _contains(path, protected_path):
      raise UnsafeResultDir(f"--output_dir={path} is or contains {what} ({protected_path}): its contents would "
                            "be replaced. Choose a new folder.")
  if _contains(path, os.getcwd()):
    raise UnsafeResultDir(f"--output_dir={path} is or contains the working directory. Choose a new folder.")
  atomic.recover_dir(path)
  if os.path.isdir(path) and os.listdir(path):
    manifest = os.path.join(path, MANIFEST)
    try:
      with open(manifest) as f:
        made_by = json.load(f).get("tool")
    except (OSError, ValueError):
      made_by = None
    if made_by != tool:
      raise UnsafeResultDir(f"--output_dir={path} holds files that are not a result of {tool} (no {MANIFEST} "
                            "of it there); they would be deleted. Choose a new or empty folder.")
  elif os.path.exists(path) and not os.path.isdir(path):
    raise UnsafeResultDir(f"--output_dir={path} is a file. Choose a folder.")
  parent = os.path.dirname(path)
  os.makedirs(parent, exist_ok=True)
  if not os.access(parent, os.W_OK):
    raise UnsafeResultDir(f"--output_dir={path}: cannot write in {parent}.")
  return path


@contextlib.contextmanager
def result_dir(path: str, tool: str, description: dict | None = None):
  """Yields a scratch folder; on success it replaces `path` (checked by check_result_dir) whole.

  On any error the scratch folder is removed and the previous result stays as it was.
  """
  # Two writers of results into one folder take turns (the second would take the first's scratch folder
  # away); the lock is on the folder itself, so no lock file is left among the results.
  with locks.ProcessLock(os.path.dirname(os.path.abspath(path)), wait=True):
    scratch = f"{path}.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    try:
      yield scratch
      atomic.write_json(os.path.join(scratch, MANIFEST), {"tool": tool, **(description or {})})
      atomic.replace_dir(scratch, path)
    except BaseException:
      shutil.rmtree(scratch, ignore_errors=True)
      raise
