"""The run folder before any TensorFlow: a failed start leaves nothing, a start that committed nothing binds nothing."""

import json

import pytest

from run_folder import layout
from trainer import run_dir
from tests.trainer.helpers import tiny_config


def test_a_folder_the_run_made_is_removed_if_it_ends_before_committing_an_epoch(tmp_path):
  with pytest.raises(RuntimeError), run_dir.claimed(str(tmp_path / "new")):
    (tmp_path / "new" / layout.CONFIG).write_text("{}")
    raise RuntimeError("the dataset is not built")
  assert not (tmp_path / "new").exists()
  (tmp_path / "mine").mkdir()  # a folder that was there before stays
  with pytest.raises(KeyboardInterrupt), run_dir.claimed(str(tmp_path / "mine")):
    raise KeyboardInterrupt
  assert (tmp_path / "mine").is_dir()


def test_a_folder_with_a_committed_epoch_is_kept_whatever_ends_the_run(tmp_path):
  with pytest.raises(KeyboardInterrupt), run_dir.claimed(str(tmp_path / "run")):
    (tmp_path / "run" / layout.BACKUP_DIR).mkdir()
    (tmp_path / "run" / layout.BACKUP_DIR / layout.STATE).write_text(json.dumps({"history": [{"epoch": 0}]}))
    raise KeyboardInterrupt
  assert (tmp_path / "run" / layout.BACKUP_DIR / layout.STATE).exists()


def test_the_preflight_makes_no_folder_and_says_when_it_starts_afresh(tmp_path, capsys):
  setup = run_dir.preflight(tiny_config(tmp_path / "a" / "b"))
  assert setup.model_dir == str(tmp_path / "a" / "b") and not (tmp_path / "a").exists()
  (tmp_path / "a" / "b").mkdir(parents=True)
  (tmp_path / "a" / "b" / layout.CONFIG).write_text(json.dumps({"flags": {"backbone": "effnetb3"}}))
  run_dir.preflight(tiny_config(tmp_path / "a" / "b"))  # other settings, but no epoch was committed
  assert "holds no finished epoch (an earlier start failed or was stopped): starting afresh" in capsys.readouterr().out


def test_the_resume_command_spells_out_the_settings_that_differ_from_the_defaults(tmp_path):
  command = run_dir.resume_command(tiny_config(tmp_path / "run", epochs=3))
  assert command.startswith("python -m trainer ") and "--epochs=3" in command and "--backbone=small_cnn" in command
  assert f"--model_dir={tmp_path / 'run'}" in command and "--seed" not in command  # the default seed
