"""Small, fast training configurations for the trainer tests."""

import dataclasses
import json

from trainer.config import TrainConfig


def tiny_config(model_dir, **overrides) -> TrainConfig:
  """small_cnn at 32 px from scratch, a few steps per epoch, on the tiny synthetic set (pass its
  builder to run(..., builder=)): a second per epoch on a CPU. The real backbones each have a short
  test of their own (test_backbones.py); everything else the trainer does is the same for any."""
  settings = dict(backbone="small_cnn", weights="none", dataset="cnmc/synthetic_tiny",
                  image_size=32, batch_size=8, epochs=2, warmup_epochs=0, steps_per_epoch=3,
                  validation_steps=2, model_dir=str(model_dir), augmentation="cells",
                  profile_steps=(0, 0),  # profiling has tests of its own
                  saved_model=False)  # the export costs ~30 s; test_train_end_to_end checks it once
  return dataclasses.replace(TrainConfig(), **{**settings, **overrides})


def history(model_dir) -> list[dict]:
  """history.csv as a list of {column: float}, as every reader of a run folder reads it."""
  from cnmc.run_folder import record
  return record.read_history(str(model_dir))


def best_epoch(model_dir) -> int:
  """The epoch (from 1) with the highest validation weighted F1 in history.csv, the first if tied."""
  rows = history(model_dir)
  return int(max(rows, key=lambda row: (row["val_weighted_f1"], -row["epoch"]))["epoch"])


def read_json(path) -> dict:
  with open(path) as f:
    return json.load(f)


# `python -m trainer` at the size of tiny_config, for the tests of what the command itself does.
SMALL_FLAGS = ["--backbone=small_cnn", "--weights=none", "--image_size=32", "--batch_size=8", "--epochs=2",
               "--steps_per_epoch=3", "--validation_steps=1", "--nosaved_model"]


def small_trainer(data_dir, *flags: str):
  """`python -m trainer --dataset=<data_dir> <SMALL_FLAGS> <flags>`, run in this process (in_process.module)."""
  from tests.support import in_process
  return in_process.module("trainer", f"--dataset={data_dir}", *SMALL_FLAGS, *flags)


def assert_one_clear_error(result, *phrases: str) -> None:
  """Exit status 1, no traceback, and every phrase on stderr."""
  assert result.returncode == 1, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  for phrase in phrases:
    assert phrase in result.stderr, result.stderr[-2000:]
