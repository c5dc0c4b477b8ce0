"""A run resolved once: the settings, this machine and the data make one immutable record.

`run_dir.preflight` resolves what needs neither TensorFlow nor the data (backbone, input size, weights, folder,
cluster role: a `Setup`); `make_plan` adds what the machine and the data decide: device, precision, XLA and
strategy, the training images per class after --exclude, the steps per epoch, the images each validation reads and
the steps profiled. config.json keeps it ("resolved"); the training loop reads it and works none of it out again.
"""

import dataclasses

import keras
import tensorflow as tf

from cnmc.run_folder import record
from cnmc_tfds.vocabulary import ALL, HEM
from trainer import data, recipe, run_dir
from trainer.config import TrainConfig, flag_text
from trainer.runtime import Runtime


@dataclasses.dataclass(frozen=True)
class Plan:
  config: TrainConfig  # the settings as given
  setup: run_dir.Setup  # backbone, image_size, weights, model_dir (the user's), role
  runtime: Runtime  # device, precision, XLA, strategy
  counts: dict[int, int]  # training images per class, --exclude applied
  excluded: frozenset[str]  # the cells --exclude names
  steps_per_epoch: int  # updates of --batch_size x --accumulation_steps images
  validated: tuple[int, int]  # (images each validation reads, images of the split)
  profile: tuple[int, int] | None  # the train steps profiled, counted over the run; None: none

  @property
  def image_size(self) -> int:
    return self.setup.image_size

  @property
  def strategy(self) -> tf.distribute.Strategy:
    return self.runtime.strategy

  def validation_share(self) -> str:
    """'16 of 179' when a validation reads part of the split, '179' when all of it."""
    read, total = self.validated
    return f"{read} of {total}" if read < total else str(total)

  def resolved(self, model_dir: str) -> dict:
    """The run record's "resolved": what the settings became on this machine, for this data."""
    return {"image_size": self.image_size, "model_dir": model_dir,
            "profile_steps": flag_text("profile_steps", self.profile or (0, 0)),  # the flag's form: "5,8", "0,0"
            "effective_batch_size": self.config.effective_batch_size, "steps_per_epoch": self.steps_per_epoch,
            "training_images": {"HEM": self.counts[HEM], "ALL": self.counts[ALL]},
            "excluded_cells": sorted(self.excluded),  # what --exclude listed when the run started
            **self.runtime.to_json()}


def make_plan(config: TrainConfig, setup: run_dir.Setup, runtime: Runtime, builder) -> Plan:
  """The run's plan on this machine for this data (checking the batch's split and the data's); says what it trains
  and validates on."""
  recipe.check_accumulation(config.batch_size, config.accumulation_steps, runtime.strategy.num_replicas_in_sync)
  excluded = data.excluded_cells(config)
  counts = data.check_splits(builder, config, excluded)
  print(f"Training on {data.train_split(config)}: {counts[HEM]} HEM, {counts[ALL]} ALL images.", flush=True)
  steps = data.steps_per_epoch(config, counts)
  plan = Plan(config, setup, runtime, counts, excluded, steps, data.validated_images(builder, config),
              profile_range(config.profile_steps, steps, config.epochs))
  print(f"Validating on {plan.validation_share()} images of {config.val_split} each epoch"
        + (f" (--validation_steps={config.validation_steps})." if plan.validated[0] < plan.validated[1] else "."),
        flush=True)
  return plan


def profile_range(flag: tuple[int, int] | None, steps: int, epochs: int) -> tuple[int, int] | None:
  """--profile_steps resolved: None (auto) profiles up to 4 steps early in epoch 2, once the cache is
  warm and tracing is done; (0, 0) or a run of one epoch profiles nothing."""
  if flag is None:
    return (steps + min(1, steps - 1), steps + min(4, steps - 1)) if epochs >= 2 else None
  return None if flag == (0, 0) else flag


def write(plan: Plan, model_dir: str, builder) -> None:
  """config.json: the settings, the plan, the dataset and the versions that made the run."""
  record.write_record(model_dir, record.RunRecord(
      flags=plan.config.to_json(), resolved=plan.resolved(model_dir),
      dataset={"name": builder.name, "config": builder.builder_config.name, "version": str(builder.version),
               "data_dir": str(builder.data_dir)},
      versions={"tensorflow": tf.__version__, "keras": keras.__version__}))


def record_continuation(model_dir: str, after_epoch: int) -> None:
  """config.json notes that every backup was damaged and the run went on from best.keras (--from_best_model)."""
  written = record.read_record(model_dir)
  record.write_record(model_dir, dataclasses.replace(written, resolved={
      **written.resolved, "continued_from_best_model": {"after_epoch": after_epoch}}))
