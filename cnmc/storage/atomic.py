"""Atomic writes: a file is either its old complete self or its new complete self, never half of each.

Every write goes to a temporary file in the same folder, is flushed and fsynced, then renamed over
the target (rename is atomic on POSIX within one file system); the folder is fsynced so the rename
itself survives a power cut. A kill at any instant leaves at worst a stray temporary file, which
never has the target's name.
"""

import contextlib
import json
import os
import shutil
import tempfile


def fsync_dir(folder: str) -> None:
  """Makes a rename or unlink in `folder` durable."""
  fd = os.open(folder or ".", os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


def fsync_tree(path: str) -> None:
  """fsyncs a file, or every file and folder under a folder."""
  if os.path.isfile(path):
    with open(path, "rb") as f:
      os.fsync(f.fileno())
    return
  for root, _, files in os.walk(path):
    for name in files:
      with open(os.path.join(root, name), "rb") as f:
        os.fsync(f.fileno())
    fsync_dir(root)


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp's 0600 would hide results from the group


def temporary_path(path: str, suffix: str = "") -> str:
  """A fresh name beside `path` (hidden, marked .partial), ending in `suffix` (Keras checks extensions)."""
  folder, name = os.path.split(os.path.abspath(path))
  fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=f".partial{suffix}", dir=folder)
  os.fchmod(fd, _FILE_MODE)
  os.close(fd)
  return temporary


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ""):
  """Yields a temporary path to write `path` through; on success it is fsynced and renamed over `path`.

  suffix: what the temporary name must end with for the writer (".keras", ".weights.h5").
  On any error the temporary file is removed and `path` is untouched.
  """
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  temporary = temporary_path(path, suffix)
  try:
    yield temporary
    fsync_tree(temporary)
    os.replace(temporary, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(temporary)
    raise
  fsync_dir(os.path.dirname(os.path.abspath(path)))


def write_text(path: str, text: str) -> None:
  with atomic_path(path) as temporary, open(temporary, "w") as f:
    f.write(text)


def write_json(path: str, value) -> None:
  write_text(path, json.dumps(value, indent=2) + "\n")


def replace_dir(new: str, path: str) -> None:
  """Puts the complete folder `new` at `path`, keeping one complete folder there at every instant but one
  rename: the old one is renamed aside, the new one into place, then the old one deleted. A kill in
  between leaves `<path>.old`, which `recover_dir` puts back."""
  fsync_tree(new)
  aside = f"{os.path.normpath(path)}.old"
  shutil.rmtree(aside, ignore_errors=True)
  if os.path.exists(path):
    os.replace(path, aside)
  os.replace(new, path)
  fsync_dir(os.path.dirname(os.path.abspath(path)))
  shutil.rmtree(aside, ignore_errors=True)


def recover_dir(path: str) -> None:
  """After a kill inside `replace_dir`: the previous complete folder goes back where it was."""
  aside = f"{os.path.normpath(path)}.old"
  if os.path.exists(aside) and not os.path.exists(path):
    os.replace(aside, path)
  else:
    shutil.rmtree(aside, ignore_errors=True)


def remove_strays(folder: str) -> None:
  """Removes the temporary files a killed writer left in `folder` (only ours: hidden, marked .partial).

  Call it only while holding the folder's lock, so no live writer's file is taken.
  """
  for name in os.listdir(folder) if os.path.isdir(folder) else ():
    if name.startswith(".") and ".partial" in name:
      path = os.path.join(folder, name)
      shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
