"""The one kind of lock: an OS lock (flock) that the kernel releases when its holder dies.

A kill -9 leaves no stale lock: a lock file may remain, but nobody holds it, so the next process
takes it. A lock file records its holder's pid and command, for the message the next process
prints; a folder can also be locked itself, leaving no file behind (then the holder is not named).
"""

import fcntl
import os
import socket
import sys
import time

LOCK_FILE = ".lock"


class LockBusy(Exception):
  """Another live process holds the lock; the message names it."""


class ProcessLock:
  """Holds the lock on `path` (a file, made if missing, or an existing folder) until `release()` or the end
  of the process.

  wait=False: a second process fails at once with LockBusy naming the holder; wait=True: it calls
  on_wait(holder) and waits its turn.
  """

  def __init__(self, path: str, *, wait: bool = False, what: str = "process", on_wait=None):
    self.path, self._is_folder = path, os.path.isdir(path)
    if not self._is_folder:
      os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    self._fd = os.open(path, os.O_RDONLY if self._is_folder else os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      if not wait:
        holder = self._holder()
        os.close(self._fd)
        where = path if self._is_folder else os.path.dirname(os.path.abspath(path))
        raise LockBusy(f"{where} is in use by another {what} ({holder}). "
                       "Wait for it to finish, stop it, or use another folder.") from None
      if on_wait:
        on_wait(self._holder())
      fcntl.flock(self._fd, fcntl.LOCK_EX)
    if not self._is_folder:
      os.ftruncate(self._fd, 0)
      os.write(self._fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.ctime()}: "
                         f"{' '.join(sys.argv)}\n".encode())

  def _holder(self) -> str:
    if self._is_folder:
      return "a process holding the folder"
    with open(self.path) as f:
      return f.read().strip() or "a process that has not said which"

  def release(self) -> None:
    if self._fd is not None:
      if not self._is_folder:
        os.ftruncate(self._fd, 0)  # a lock no one holds names no one (a kill -9 leaves the name; flock is free)
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.release()


def folder_lock(folder: str, what: str) -> ProcessLock:
  """The lock of a whole folder (`<folder>/.lock`, naming its holder), refused at once while another
  process holds it."""
  return ProcessLock(os.path.join(folder, LOCK_FILE), what=what)
