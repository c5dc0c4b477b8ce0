"""User mistakes give one clear message and a non-zero exit, never a traceback."""

import dataclasses
import json
import subprocess

import pytest

from run_folder import layout
from trainer import backbones, weights as weights_lib
from trainer.config import TrainConfig
from trainer.run_dir import check_model_dir
from trainer.errors import TrainerError
from trainer.train import run
from tests.support.subprocesses import module
from tests.trainer.helpers import tiny_config


def run_cli(*flags: str) -> subprocess.CompletedProcess:
  return module("trainer", *flags)


def test_unknown_backbone_is_refused_with_the_choices():
  with pytest.raises(TrainerError, match="effnetb3, inception_resnet_v2"):
    backbones.get_backbone("resnet50")
  result = run_cli("--backbone=resnet50")
  assert result.returncode != 0 and "Traceback" not in result.stderr
  assert "effnetb3" in result.stderr


def test_unbuilt_real_dataset_names_the_build_command(tmp_path):
  result = run_cli("--dataset=cnmc/real", f"--data_dir={tmp_path}", "--weights=none", f"--model_dir={tmp_path}/run")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert "tfds build cnmc/real --imports=cnmc_tfds --manual_dir=" in result.stderr


def test_missing_weights_file_is_named(tmp_path):
  with pytest.raises(TrainerError, match="no such file"):
    weights_lib.resolve_weights(str(tmp_path / "missing.h5"))


def test_unreachable_imagenet_weights_say_where_to_put_the_file(tmp_path, monkeypatch):
  from keras.src.utils import file_utils
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))

  def no_network(*args, **kwargs):
    raise Exception("URL fetch failure: network unreachable")
  monkeypatch.setattr(file_utils, "get_file", no_network)
  backbone = backbones.get_backbone("effnetb3")
  with pytest.raises(TrainerError) as error:
    weights_lib.build_with_weights(backbone, (32, 32, 3), "imagenet")
  assert str(tmp_path / "models" / "efficientnetb3_notop.h5") in str(error.value)
  assert "--weights=none" in str(error.value)


@pytest.mark.slow
def test_a_weights_file_of_another_backbone_is_refused(tmp_path):
  wrong = tmp_path / "irv2.weights.h5"
  backbones.get_backbone("inception_resnet_v2").build((75, 75, 3), None).save_weights(wrong)
  with pytest.raises(TrainerError, match="Could not load the weights"):
    weights_lib.build_with_weights(backbones.get_backbone("effnetb3"), (32, 32, 3), str(wrong))


def test_image_size_below_the_backbone_minimum_is_refused(tmp_path):
  with pytest.raises(TrainerError, match="at least 75 px"):
    run(dataclasses.replace(TrainConfig(), backbone="inception_resnet_v2", image_size=64, weights="none",
                            model_dir=str(tmp_path)))


def test_model_dir_with_other_settings_is_refused(tmp_path):
  config = tiny_config(tmp_path)
  other = dataclasses.asdict(dataclasses.replace(config, batch_size=64))
  (tmp_path / layout.CONFIG).write_text(json.dumps({"flags": other}))
  check_model_dir(config, str(tmp_path))  # no epoch was committed: not a run, its settings do not bind
  (tmp_path / "backup").mkdir()
  (tmp_path / "backup" / layout.STATE).write_text(json.dumps({"history": [{"epoch": 0}]}))
  with pytest.raises(TrainerError, match="batch_size: 64 there, 8 now"):
    check_model_dir(config, str(tmp_path))
  check_model_dir(dataclasses.replace(config, batch_size=64, epochs=50), str(tmp_path))  # more epochs: resume


@pytest.mark.parametrize("splits,val,message", [(("fold_0", "test"), "validation", "unlabelled"),
                                                (("fold_0",), "fold_0", "both sides"),
                                                (("fold_9",), "validation", "not in cnmc/synthetic_tiny")])
def test_bad_splits_are_refused(tmp_path, tiny_synthetic, splits, val, message):
  with pytest.raises(TrainerError, match=message):
    run(tiny_config(tmp_path, train_splits=splits, val_split=val), builder=tiny_synthetic)


def test_bad_profile_steps_flag_is_refused():
  result = run_cli("--profile_steps=10", "--weights=none")
  assert result.returncode == 1 and "Traceback" not in result.stderr and "first,last" in result.stderr


def test_an_unbuilt_synthetic_dataset_is_built_on_demand(tmp_path, monkeypatch):
  from cnmc_tfds.cnmc import synthetic_tree
  from tests.cnmc_tfds.helpers import TINY
  from cnmc_tfds.loading import load_builder
  plan = synthetic_tree.plan_cells
  monkeypatch.setattr(synthetic_tree, "plan_cells", lambda *args, **kwargs: plan(**TINY))  # seconds, not 30 s
  builder = load_builder("cnmc/synthetic", data_dir=str(tmp_path))
  assert builder.is_prepared() and builder.info.splits["fold_0"].num_examples > 0


def test_splits_sharing_images_are_refused_and_sharing_subjects_warned(tiny_synthetic, tmp_path, caplog):
  from trainer.data import check_splits
  with pytest.raises(TrainerError, match="share .* images"):
    check_splits(tiny_synthetic, tiny_config(tmp_path, train_splits=("fold_0",), val_split="fold_0[:50%]"))
  with pytest.raises(TrainerError, match="'fold_9' is not in"):
    check_splits(tiny_synthetic, tiny_config(tmp_path, train_splits=("fold_9[:50%]",), val_split="fold_1"))
  caplog.set_level("WARNING")
  check_splits(tiny_synthetic, tiny_config(tmp_path, train_splits=("fold_0[:50%]",), val_split="fold_0[50%:]"))
  assert "validation scores will be optimistic" in caplog.text
  caplog.clear()
  check_splits(tiny_synthetic, tiny_config(tmp_path, train_splits=("fold_0", "fold_1"), val_split="fold_2"))
  assert "optimistic" not in caplog.text
