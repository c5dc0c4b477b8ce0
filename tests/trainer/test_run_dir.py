"""The run folder (trainer/run_dir.py): a failed start leaves nothing and binds nothing, a run with other settings,
a damaged record, an unwritable or busy folder are refused in one line, and nothing a user had is touched."""

import dataclasses
import json
import signal
import subprocess
import sys
import time

import pytest

from cnmc.run_folder import layout
from tests.support import in_process
from tests.support.subprocesses import REPO, environment, module
from tests.trainer.helpers import SMALL_FLAGS, assert_one_clear_error, history, small_trainer, tiny_config
from trainer import run_dir
from trainer.errors import TrainerError
from trainer.train import run


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
  with run_dir.claimed(str(tmp_path / "a" / "b")):  # said once the folder is this run's
    pass
  assert "holds no finished epoch (an earlier start failed or was stopped): starting afresh" in capsys.readouterr().out


def test_a_busy_folder_is_refused_before_anything_is_said_about_it(tmp_path, capsys):
  from cnmc.storage import locks
  (tmp_path / layout.CONFIG).write_text(json.dumps({"flags": {"backbone": "effnetb3"}}))  # no epoch committed
  with locks.folder_lock(str(tmp_path), "training run"):
    with pytest.raises(TrainerError, match="is in use by another training run"):
      with run_dir.claimed(str(tmp_path)):
        pass
  assert capsys.readouterr().out == ""


def test_the_resume_command_spells_out_the_settings_that_differ_from_the_defaults(tmp_path):
  command = run_dir.resume_command(tiny_config(tmp_path / "run", epochs=3))
  assert command.startswith("python -m trainer ") and "--epochs=3" in command and "--backbone=small_cnn" in command
  assert f"--model_dir={tmp_path / 'run'}" in command and "--seed" not in command  # the default seed


def test_a_folder_with_other_settings_binds_only_once_an_epoch_was_committed(tmp_path):
  config = tiny_config(tmp_path)
  other = dataclasses.asdict(dataclasses.replace(config, batch_size=64))
  (tmp_path / layout.CONFIG).write_text(json.dumps({"flags": other}))
  run_dir.check_model_dir(config, str(tmp_path))  # no epoch was committed: not a run, its settings do not bind
  (tmp_path / layout.BACKUP_DIR).mkdir()
  (tmp_path / layout.BACKUP_DIR / layout.STATE).write_text(json.dumps({"history": [{"epoch": 0}]}))
  with pytest.raises(TrainerError, match="batch_size: 64 there, 8 now"):
    run_dir.check_model_dir(config, str(tmp_path))
  run_dir.check_model_dir(dataclasses.replace(config, batch_size=64, epochs=50), str(tmp_path))  # more epochs: resume


def test_a_damaged_results_file_is_named_and_the_run_left_byte_for_byte(tiny_synthetic, tmp_path):
  run(tiny_config(tmp_path, epochs=1), builder=tiny_synthetic)
  (tmp_path / layout.RESULTS).write_text("{")
  before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
  with pytest.raises(TrainerError, match="results.json is damaged"):
    run(tiny_config(tmp_path, epochs=1), builder=tiny_synthetic)
  after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
  assert after == before


def test_damaged_run_files_are_named_as_damaged(tiny_synthetic, tmp_path):
  (tmp_path / layout.CONFIG).write_text("")
  (tmp_path / layout.RESULTS).write_text("{}")  # a finished run: its record of settings matters
  assert_one_clear_error(small_trainer(tiny_synthetic.data_dir, f"--model_dir={tmp_path}"),
                         f"{tmp_path}/config.json is damaged")


def test_an_unwritable_model_dir_fails_before_the_data_is_looked_at(tmp_path):
  (tmp_path / "a_file").write_text("")
  result = in_process.module("trainer", "--dataset=cnmc/real", f"--data_dir={tmp_path}/nothing_built", *SMALL_FLAGS,
                  f"--model_dir={tmp_path}/a_file/run")
  assert_one_clear_error(result, f"--model_dir={tmp_path}/a_file/run: {tmp_path}/a_file is a file")
  result = in_process.module("trainer", "--dataset=cnmc/real", f"--data_dir={tmp_path}/nothing_built", *SMALL_FLAGS,
                  f"--model_dir={tmp_path}/a_file")
  assert_one_clear_error(result, f"--model_dir={tmp_path}/a_file: it is a file, not a folder")


def test_an_unbuilt_dataset_leaves_no_run_folder(tmp_path):
  result = in_process.module("trainer", "--dataset=cnmc/real", f"--data_dir={tmp_path}/data", *SMALL_FLAGS,
                  f"--model_dir={tmp_path}/run")
  assert_one_clear_error(result, "tfds build cnmc/real --imports=cnmc_tfds")
  assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_second_run_in_the_same_model_dir_is_refused_and_the_first_finishes(tiny_synthetic, tmp_path):
  first = subprocess.Popen([sys.executable, "-m", "trainer", f"--dataset={tiny_synthetic.data_dir}", *SMALL_FLAGS,
                            "--epochs=40", f"--model_dir={tmp_path}"], cwd=REPO, env=environment(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.monotonic() + 120
    while not (tmp_path / layout.BACKUP_DIR / layout.STATE).exists():  # the first is training
      assert time.monotonic() < deadline and first.poll() is None
      time.sleep(0.5)
    second = small_trainer(tiny_synthetic.data_dir, "--epochs=40", f"--model_dir={tmp_path}")
    assert_one_clear_error(second, "is in use by another training run", f"pid {first.pid}")
  finally:
    first.send_signal(signal.SIGKILL)
    first.wait()
  rows = [int(row["epoch"]) for row in history(tmp_path)]
  assert rows == list(range(1, len(rows) + 1))  # the refused run wrote nothing into the first's history


@pytest.mark.slow
def test_a_failed_start_leaves_nothing_behind_and_blocks_not_the_command_its_error_advises(tiny_synthetic, tmp_path):
  offline = {"KERAS_HOME": str(tmp_path / "keras")}  # no cached ImageNet weights, and no network here
  effnet = [f"--dataset={tiny_synthetic.data_dir}", "--backbone=effnetb3", "--image_size=32", "--batch_size=8",
            "--epochs=1", "--warmup_epochs=1", "--steps_per_epoch=1", "--validation_steps=1", "--nosaved_model",
            "--profile_steps=0,0"]
  failed = module("trainer", *effnet, f"--model_dir={tmp_path}/new", env=offline)
  assert_one_clear_error(failed, "Could not download the ImageNet weights", "--weights=none")
  assert not (tmp_path / "new").exists()  # the folder it made is gone again
  (tmp_path / "mine").mkdir()  # a folder the user made stays, with the failed start's record in it
  failed = module("trainer", *effnet, f"--model_dir={tmp_path}/mine", env=offline)
  assert_one_clear_error(failed, "--weights=none")
  assert json.loads((tmp_path / "mine" / layout.CONFIG).read_text())["flags"]["weights"] == "imagenet"
  advised = subprocess.Popen([sys.executable, "-m", "trainer", *effnet, "--weights=none",
                              f"--model_dir={tmp_path}/mine"], cwd=REPO, env=environment(**offline),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  try:  # until it trains (a whole EfficientNetB3 step would take ~25 s more and show nothing about the folder)
    said = list(iter_until(advised.stdout, "Phase train: epoch 1 of 1"))
  finally:
    advised.kill()
    advised.communicate()
  assert said[-1].startswith("Phase train: epoch 1 of 1"), "".join(said)[-2000:]
  assert any("holds no finished epoch (an earlier start failed or was stopped): starting afresh" in line
             for line in said)
  assert json.loads((tmp_path / "mine" / layout.CONFIG).read_text())["flags"]["weights"] == "none"


def iter_until(lines, start: str):
  """The lines up to and including the first that starts with `start` (all of them if none does)."""
  for line in lines:
    yield line
    if line.startswith(start):
      return
