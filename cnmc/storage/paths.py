"""Path flags as users type them: `~` and `$VARS` expanded, writability checked before any work."""

import os


def expand_path(path: str | None) -> str | None:
  """'~/runs/$EXP' -> '/home/me/runs/exp1'; None and '' pass through."""
  return os.path.expandvars(os.path.expanduser(path)) if path else path


def writable_dir_problem(folder: str) -> str | None:
  """None if `folder` exists or could be made, and a file can be created in it; else why not, as a phrase
  to follow "<flag>=<folder>: " ("it is a file, not a folder", ...). Makes nothing: a command that fails
  later must not leave an empty folder behind."""
  path = os.path.abspath(folder)
  existing = path
  while not os.path.lexists(existing):  # the nearest part of the path that exists
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    return ("it is a file, not a folder" if existing == path
            else f"{existing} is a file, so no folder can be made inside it")
  probe = os.path.join(existing, f".write-test-{os.getpid()}")
  try:
    with open(probe, "w"):
      pass
    os.remove(probe)
  except OSError as error:
    return f"cannot write in {existing} ({error.strerror or error})"
  return None
