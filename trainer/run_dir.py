"""The run folder (--model_dir): where it is, that it can be written, that its run matches the flags.

Nothing here imports TensorFlow, so the command line checks the folder before TensorFlow starts (a
wrong path fails in a second); `run` checks it again, holding the folder's lock.
"""

import json
import os

from storage import locks, paths
from trainer import backbones, cluster
from trainer.config import TrainConfig, check_model_dir, dataset_label
from trainer.errors import TrainerError
from trainer.weights import resolve_weights

RESULTS_FILE = "results.json"


def default_model_dir(config: TrainConfig, image_size: int) -> str:
  return os.path.join("runs", f"{dataset_label(config.dataset)}-{config.backbone}-{image_size}px")


def resolve(config: TrainConfig) -> tuple[backbones.Backbone, int, str]:
  """(backbone, input size, model_dir) of a configuration; bad backbones and sizes are TrainerErrors."""
  backbone = backbones.get_backbone(config.backbone)
  image_size = config.image_size or backbone.default_size
  backbones.check_image_size(backbone, image_size)
  return backbone, image_size, config.model_dir or default_model_dir(config, image_size)


def check_writable(model_dir: str) -> None:
  problem = paths.writable_dir_problem(model_dir)
  if problem:
    raise TrainerError(f"--model_dir={model_dir}: cannot write there ({problem}).")


def lock(model_dir: str) -> locks.ProcessLock:
  """Takes the folder's lock for this run: a second run there stops at once, naming this one."""
  check_writable(model_dir)
  try:
    return locks.folder_lock(model_dir, what="training run")
  except locks.FolderBusy as error:
    raise TrainerError(str(error)) from None


def read_json(path: str) -> dict:
  try:
    with open(path) as f:
      return json.load(f)
  except ValueError as error:
    raise TrainerError(f"{path} is damaged ({error}). Move it aside (or use a new --model_dir).") from None


def preflight(config: TrainConfig) -> None:
  """Every check of the flags, the cluster and the run folder that needs no TensorFlow and no data."""
  resolve_weights(config.weights)
  _, _, model_dir = resolve(config)
  role = cluster.detect(config.strategy)  # a malformed TF_CONFIG fails here
  if role and not role.is_chief:
    return  # only the chief uses the run folder
  check_writable(model_dir)
  check_model_dir(config, model_dir)
  if os.path.exists(os.path.join(model_dir, RESULTS_FILE)):
    read_json(os.path.join(model_dir, RESULTS_FILE))
