"""tf.data file caches that are named by what they hold and survive a killed writer.

`Dataset.cache(prefix)` reuses whatever sits at `prefix`, so the name carries the dataset (name,
config, version), the split, the image size and the stream. A writer killed half-way leaves
`<prefix>_<n>.lockfile` and partial shards, which make the next run fail ("concurrent caching iterator");
here a per-cache OS lock tells a dead writer (its leftovers are removed, the cache is rebuilt) from a
live one (this process then reads without the file cache).
"""

import glob
import os
import re

from absl import logging

from cnmc.storage import locks

_HELD = {}  # prefix -> its writer's lock, held as long as the process lives


def cache_prefix(root: str, builder, split: str, image_size: int, stream: str) -> str:
  """`<root>-<name>-<config>-<version>-<split>-<size>px-<stream>`, with odd characters replaced."""
  info = builder.info
  parts = [info.name, builder.builder_config.name if builder.builder_config else "", str(info.version), split,
           f"{image_size}px", stream]
  return root + "-" + "-".join(re.sub(r"[^A-Za-z0-9_.%+]+", "_", p) for p in parts if p)


def claim(prefix: str) -> bool:
  """Whether this process may use the file cache at prefix: True if it is complete, or if this process
  becomes its only writer (removing what a dead writer left); False while another live process writes it."""
  if os.path.exists(f"{prefix}.index"):
    return True
  if prefix in _HELD:
    return True
  try:
    writer = locks.ProcessLock(f"{prefix}.writer", what="cache writer")
  except locks.LockBusy:
    logging.warning("The file cache %s is being written by another process: reading without it.", prefix)
    return False
  leftovers = glob.glob(f"{glob.escape(prefix)}_*")  # the writer's lockfile and temporary shards
  if leftovers:
    logging.warning("Removing a half-written file cache at %s (its writer was stopped); it is rebuilt.", prefix)
    for path in leftovers:
      os.remove(path)
  _HELD[prefix] = writer
  return True
