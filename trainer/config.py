"""The training configuration: what the flags ask for."""

import dataclasses
import os

from cnmc_tfds.vocabulary import FOLD_SPLITS, VALIDATION_SPLIT
from pipeline.augmentation_presets import PRESETS

AUGMENTATIONS = PRESETS  # --augmentation's choices

@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Everything a run depends on; see trainer/flags.py for each field's meaning."""
  backbone: str = "effnetb3"
  weights: str = "imagenet"
  dataset: str = "cnmc/synthetic"
  data_dir: str | None = None
  manual_dir: str | None = None
  train_splits: tuple[str, ...] = FOLD_SPLITS
  exclude: str = ""  # a file of cell names never trained on (e.g. tools.audit's label_issues.csv); "": none
  val_split: str = VALIDATION_SPLIT
  image_size: int = 0  # 0: the backbone's default
  batch_size: int = 32
  epochs: int = 10
  warmup_epochs: int = 2
  learning_rate: float = 1e-3
  fine_tune_learning_rate: float = 1e-4
  lr_schedule: str = "cosine"
  optimizer: str = "adam"
  warmup_steps: int = 0  # linear learning-rate warm-up at the start of each phase
  clipnorm: float = 0.0  # clip the gradients to this global norm; 0: no clipping
  accumulation_steps: int = 1  # batches whose gradients are averaged into one update
  label_smoothing: float = 0.0  # of the training loss's targets only
  ema_decay: float = 0.0  # validate, keep and export the moving average of the weights; 0: off
  mixup_alpha: float = 0.0  # mixup's Beta(alpha, alpha); 0: off
  cutmix_alpha: float = 0.0  # cutmix's Beta(alpha, alpha); 0: off
  mix_probability: float = 1.0  # of mixing a batch, when mixup or cutmix is on
  dropout: float = 0.3
  augmentation: str = "cells"
  input_transform: str = "rgb"  # what the backbone sees: rgb, optical_density, stain_normalised
  balance: str = "oversample"
  mixed_precision: str = "auto"
  xla: str = "auto"
  strategy: str = "auto"
  peer_timeout: int = 300  # seconds a worker waits for the others to join (multi-worker only)
  slurm_port: int = 8888  # first port of a node's tasks under SLURM
  model_dir: str = ""
  profile_steps: tuple[int, int] | None = None  # (first, last) train step of the run; (0, 0) off; None auto
  steps_per_epoch: int = 0  # 0: one pass over the training split
  validation_steps: int = 0  # 0: the whole validation split
  seed: int = 42
  deterministic: bool = False
  saved_model: bool = True  # also export a SavedModel for serving

  @property
  def effective_batch_size(self) -> int:
    """Images per weight update: --batch_size times --accumulation_steps."""
    return self.batch_size * self.accumulation_steps

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


def dataset_label(dataset: str) -> str:
  """'cnmc-real' for cnmc/real; a prepared dataset's folder (<data_dir>/cnmc/<config>/<version>) by its
  name and config too. For folder names such as runs/<label>-<backbone>."""
  if os.path.isdir(dataset):
    return "-".join(dataset.rstrip("/").split("/")[-3:-1])
  return dataset.replace("/", "-")
