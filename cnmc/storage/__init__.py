"""What lands on disk and must survive a kill -9: atomic writes, one-process locks, result folders."""
