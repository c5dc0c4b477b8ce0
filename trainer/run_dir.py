"""The run folder (--model_dir): where it is, that it can be written, that its run matches the flags.

Nothing here imports TensorFlow, so the command line checks the folder before TensorFlow starts (a
wrong path fails in a second); `run` checks it again, holding the folder's lock.
"""

import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import sys

from cnmc.run_folder import layout, record
from cnmc.storage import locks, paths
from trainer import backbones
from trainer.distributed import cluster
from trainer.config import TrainConfig, default_folder, names_where, shell_command
from trainer.errors import TrainerError
from trainer.weights import resolve_weights


def resolve(config: TrainConfig) -> tuple[backbones.Backbone, int, str]:
  """(backbone, input size, model_dir) of a configuration; bad backbones and sizes are TrainerErrors."""
  backbone = backbones.get_backbone(config.backbone)
  image_size = config.image_size or backbone.default_size
  backbones.check_image_size(backbone, image_size)
  return backbone, image_size, config.model_dir or default_folder(config, size=image_size)


def check_writable(model_dir: str) -> None:
  problem = paths.writable_dir_problem(model_dir)
  if problem:
    raise TrainerError(f"--model_dir={model_dir}: {problem}. Pass another --model_dir.")


def lock(model_dir: str) -> locks.ProcessLock:
  """Takes the folder's lock for this run: a second run there stops at once, naming this one."""
  check_writable(model_dir)
  try:
    return locks.folder_lock(model_dir, what="training run")
  except locks.LockBusy as error:
    raise TrainerError(str(error)) from None


@contextlib.contextmanager
def claimed(model_dir: str):
  """The run folder, locked for this run. A folder this run made is removed again if the run ends (an
  error, an interrupt) before any epoch was committed: a failed start leaves nothing behind."""
  created = not os.path.exists(model_dir)
  with lock(model_dir):  # a busy folder is refused before anything is said about it
    if os.path.exists(os.path.join(model_dir, layout.CONFIG)) and not has_committed_epoch(model_dir):
      print(f"{model_dir} holds no finished epoch (an earlier start failed or was stopped): starting afresh.",
            flush=True)
    try:
      yield model_dir
    except BaseException:
      if created and not has_committed_epoch(model_dir):
        shutil.rmtree(model_dir, ignore_errors=True)
      raise


def read_results(model_dir: str) -> dict | None:
  """The finished run's results.json (None while the run is not finished)."""
  try:
    return record.read_results(model_dir)
  except record.DamagedRecord as error:
    raise TrainerError(f"{error}. Move it aside (or use a new --model_dir).") from None


@dataclasses.dataclass(frozen=True)
class Setup:
  """What the preflight resolved, handed on to the run rather than worked out again."""
  backbone: backbones.Backbone
  image_size: int
  model_dir: str
  weights: str | None  # the backbone builder's `weights` argument (resolve_weights)
  role: cluster.Role | None  # None: a single process


def preflight(config: TrainConfig) -> Setup:
  """Every check of the flags, the cluster and the run folder that needs no TensorFlow and no data."""
  weights = resolve_weights(config.weights)
  backbone, image_size, model_dir = resolve(config)
  role = cluster.detect(config.strategy)  # a malformed TF_CONFIG fails here
  if role is None or role.is_chief:  # only the chief uses the run folder
    check_writable(model_dir)
    check_model_dir(config, model_dir)
    read_results(model_dir)  # a damaged one is named now, not after TensorFlow has started
  return Setup(backbone, image_size, model_dir, weights, role)


def resume_command(config: TrainConfig) -> str:
  """The command that continues this run: the one typed, or (called from Python) its flags spelled out."""
  if sys.argv and sys.argv[0].endswith(os.path.join("trainer", "__main__.py")):
    return shlex.join(["python", "-m", "trainer", *sys.argv[1:]])
  return shell_command(config)


def has_committed_epoch(model_dir: str) -> bool:
  """Whether a run in model_dir finished at least one epoch (or the whole run)."""
  return record.has_finished_epoch(model_dir)


def check_model_dir(config: TrainConfig, model_dir: str) -> int | None:
  """A --model_dir holding a run with other settings is an error; the same settings resume it. Of the settings a
  resume may change, --epochs moves an unfinished run's end; a finished run is final (a new --epochs is refused).

  A folder in which no epoch was ever committed holds no run (a start that failed or was stopped
  early): its settings do not bind, and the new run replaces them.

  Returns:
    The --epochs of the unfinished run there when this config asks for another number, else None.
  """
  if not has_committed_epoch(model_dir):
    return None
  try:
    previous_record = record.read_record(model_dir)
  except record.DamagedRecord as error:
    raise TrainerError(f"{error}. It records the settings of the run in {model_dir}; restore it, or train in a "
                       "new --model_dir.") from None
  if previous_record is None:
    return None
  previous = previous_record.flags
  current = json.loads(json.dumps(config.to_json()))  # tuples become lists, as in the file
  defaults = json.loads(json.dumps(TrainConfig().to_json()))  # a setting newer than the run had its default
  changed = sorted(k for k in current.keys() | previous.keys()
                   if k not in names_where("resumable") and current.get(k) != previous.get(k, defaults.get(k)))
  if changed:
    details = ", ".join(f"{k}: {previous.get(k)!r} there, {current.get(k)!r} now" for k in changed)
    raise TrainerError(f"--model_dir={model_dir} holds a run with other settings ({details}). "
                       "Pass a new --model_dir, or the same settings to resume that run.")
  planned = previous.get("epochs", config.epochs)
  if planned == config.epochs:
    return None
  if read_results(model_dir) is not None:
    raise TrainerError(f"--model_dir={model_dir} holds a finished run of {planned} epochs; --epochs={config.epochs} "
                       "cannot continue it (a finished run keeps no optimizer state to go on from). Pass a new "
                       f"--model_dir, or --epochs={planned} to leave it as it is.")
  return planned
