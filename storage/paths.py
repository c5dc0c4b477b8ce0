"""Path flags as users type them: `~` and `$VARS` expanded, writability checked before any work."""

import os


def expand_path(path: str | None) -> str | None:
  """'~/runs/$EXP' -> '/home/me/runs/exp1'; None and '' pass through."""
  return os.path.expandvars(os.path.expanduser(path)) if path else path


def writable_dir_problem(folder: str) -> str | None:
  """None if `folder` exists or can be made, and a file can be created in it; else why not."""
  try:
    os.makedirs(folder, exist_ok=True)
    probe = os.path.join(folder, f".write-test-{os.getpid()}")
    with open(probe, "w"):
      pass
    os.remove(probe)
  except OSError as error:
    return error.strerror or str(error)
  return None
