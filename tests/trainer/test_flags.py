"""Flags become a TrainConfig; --quick fills in only what was not given."""

import pytest
from absl import flags

from tests.support import in_process
from trainer.errors import TrainerError

FLAGS = flags.FLAGS


def test_defaults_are_the_dataclass_defaults(parse):
  config = parse()
  assert config.backbone == "effnetb3" and config.train_splits == ("fold_0", "fold_1", "fold_2")
  assert config.profile_steps is None and config.image_size == 0  # None: profile epoch 2, once


def test_quick_fills_in_only_what_was_not_given(parse):
  config = parse("--quick", "--image_size=128")
  assert config.image_size == 128  # explicit wins
  assert (config.batch_size, config.epochs, config.steps_per_epoch) == (8, 2, 4)


def test_lists_and_ranges_are_parsed(parse):
  config = parse("--train_splits=fold_0,fold_2", "--profile_steps=5,9", "--backbone=inception_resnet_v2")
  assert config.train_splits == ("fold_0", "fold_2") and config.profile_steps == (5, 9)


@pytest.mark.parametrize("argv,message", [(["--profile_steps=9,5"], "first <= last"),
                                          (["--epochs=2", "--warmup_epochs=3"], "warmup_epochs")])
def test_inconsistent_flags_are_refused(parse, argv, message):
  with pytest.raises(TrainerError, match=message):
    parse(*argv)


@pytest.mark.parametrize("argv,message", [(["--epochs=0"], "not a positive integer"),
                                          (["--learning_rate=-0.1"], "not a number > 0"),
                                          (["--dropout=1.0"], r"not a number in the range \[0, 1\)"),
                                          (["--warmup_epochs=-1"], "not a non-negative integer")])
def test_numbers_out_of_range_are_refused_as_they_are_parsed(parse, argv, message):
  with pytest.raises(flags.IllegalFlagValueError, match=message):
    parse(*argv)


def test_path_flags_expand_the_home_folder_and_variables(parse, monkeypatch, tmp_path):
  monkeypatch.setenv("HOME", str(tmp_path))
  monkeypatch.setenv("EXPERIMENT", "exp1")
  config = parse("--model_dir=~/runs/$EXPERIMENT", "--data_dir=~/tfds", "--manual_dir=$HOME/download")
  assert config.model_dir == f"{tmp_path}/runs/exp1" and config.data_dir == f"{tmp_path}/tfds"
  assert config.manual_dir == f"{tmp_path}/download"


def test_a_bad_flag_from_the_command_line_is_one_line_naming_it():
  result = in_process.module("trainer", "--profile_steps=10", "--weights=none")
  assert result.returncode == 1 and "Traceback" not in result.stderr and "first,last" in result.stderr
