"""The trainer's data (trainer/data.py and the dataset it loads): splits that would mislead are refused, a
missing dataset is built or named with its build command, a damaged one is named with the command that
rebuilds it."""

import shutil
import subprocess
import sys

import keras
import pytest

from cnmc.run_folder import layout
from tests.support import in_process
from tests.support.subprocesses import REPO, environment
from tests.trainer.test_checkpoints import Killed
from tests.trainer.helpers import SMALL_FLAGS, assert_one_clear_error, small_trainer, tiny_config
from trainer.data import check_splits, val_input
from trainer.errors import TrainerError
from trainer.train import run


def test_validation_steps_validate_on_the_same_first_batches_every_epoch(tiny_synthetic, tmp_path):
  validation = val_input(tiny_synthetic, tiny_config(tmp_path, batch_size=4, validation_steps=2), 16)
  epochs = [[y.numpy().tolist() for _, y in validation] for _ in range(3)]
  assert len(epochs[0]) == 2 and epochs[0] == epochs[1] == epochs[2]


@pytest.mark.parametrize("splits,val,message", [(("fold_0", "test"), "validation", "unlabelled"),
                                                (("fold_0",), "fold_0", "both sides"),
                                                (("fold_9",), "validation", "not in cnmc/synthetic_tiny")])
def test_bad_splits_are_refused(tmp_path, tiny_synthetic, splits, val, message):
  with pytest.raises(TrainerError, match=message):
    run(tiny_config(tmp_path, train_splits=splits, val_split=val), builder=tiny_synthetic)


def test_splits_sharing_images_are_refused_and_sharing_subjects_warned(tiny_synthetic, tmp_path, caplog):
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


@pytest.mark.parametrize("flag,message", [
    ("--val_split=validation[:0]", "--val_split=validation[:0] holds 0 HEM and 0 ALL images"),
    pytest.param("--train_splits=fold_0[:1]", "--train_splits=fold_0[:1] holds", marks=pytest.mark.slow),
])
def test_splits_without_both_classes_are_refused_with_their_counts(tiny_synthetic, tmp_path, flag, message):
  assert_one_clear_error(small_trainer(tiny_synthetic.data_dir, flag, f"--model_dir={tmp_path}"), message,
                         "both classes")


def test_an_unbuilt_real_dataset_names_the_build_command(tmp_path):
  result = in_process.module("trainer", "--dataset=cnmc/real", f"--data_dir={tmp_path}", *SMALL_FLAGS,
                  f"--model_dir={tmp_path}/run")
  assert_one_clear_error(result, "tfds build cnmc/real --imports=cnmc_tfds --manual_dir=")


def test_an_unbuilt_synthetic_dataset_is_built_on_demand(tmp_path, monkeypatch):
  from cnmc_tfds.cnmc import synthetic_tree
  from cnmc_tfds.loading import load_builder
  from tests.cnmc_tfds.helpers import TINY
  plan = synthetic_tree.plan_cells
  monkeypatch.setattr(synthetic_tree, "plan_cells", lambda *args, **kwargs: plan(**TINY))  # seconds, not 30 s
  builder = load_builder("cnmc/synthetic", data_dir=str(tmp_path))
  assert builder.is_prepared() and builder.info.splits["fold_0"].num_examples > 0


BUILD_TINY = """
import sys
from cnmc_tfds.cnmc import synthetic_tree
from cnmc_tfds.loading import load_builder
from tests.cnmc_tfds.helpers import TINY
plan = synthetic_tree.plan_cells
synthetic_tree.plan_cells = lambda *args, **kwargs: plan(**TINY)  # seconds, not half a minute
builder = load_builder("cnmc/synthetic", data_dir=sys.argv[1])
print("EXAMPLES", sum(split.num_examples for split in builder.info.splits.values()))
"""


@pytest.mark.slow
def test_two_processes_building_one_dataset_build_it_once(tmp_path):
  processes = [subprocess.Popen([sys.executable, "-c", BUILD_TINY, str(tmp_path)], cwd=REPO, env=environment(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
  outputs = [process.communicate(timeout=600) for process in processes]
  assert [process.returncode for process in processes] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
  counts = {line for out, _ in outputs for line in out.splitlines() if line.startswith("EXAMPLES")}
  assert len(counts) == 1  # both read the same, complete dataset
  assert sum("Waiting for another build" in err for _, err in outputs) == 1  # the second waited its turn
  assert len(list((tmp_path / "cnmc" / "synthetic").glob("*/dataset_info.json"))) == 1


def damaged_copy(tiny_synthetic, tmp_path, damage) -> tuple:
  """A copy of the tiny dataset with its fold_0 shard damaged by damage(bytes) -> bytes."""
  folder = tmp_path / "cnmc" / "synthetic_tiny" / "1.0.0"
  shutil.copytree(tiny_synthetic.data_dir, folder)
  shard = next(folder.glob("cnmc-fold_0.tfrecord-*"))
  shard.write_bytes(damage(shard.read_bytes()))
  return folder, shard


def test_a_shard_cut_short_is_named_with_the_command_that_rebuilds_it(tiny_synthetic, tmp_path):
  folder, shard = damaged_copy(tiny_synthetic, tmp_path, lambda data: data[:len(data) // 2])  # a copy cut short
  result = small_trainer(folder, f"--model_dir={tmp_path}/run")
  assert_one_clear_error(result, f"{folder} is damaged: {shard}",
                         f"tfds build cnmc/synthetic_tiny --imports=cnmc_tfds --data_dir={tmp_path} --overwrite")
  assert not (tmp_path / "run").exists()


@pytest.mark.slow  # the cut-short shard's test is the fast one
def test_a_shard_damaged_inside_is_named_once_read(tiny_synthetic, tmp_path):
  def flip(data: bytes) -> bytes:  # the same size: only reading the records finds it (their checksums)
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:]
  folder, shard = damaged_copy(tiny_synthetic, tmp_path, flip)
  result = small_trainer(folder, f"--model_dir={tmp_path}/run")
  assert_one_clear_error(result, f"{folder} is damaged: {shard} cannot be read", "--overwrite")


class KillAtTrainBegin(keras.callbacks.Callback):
  def on_train_begin(self, logs=None):
    raise Killed()


def test_excluded_cells_are_never_trained_on_and_the_validation_split_keeps_all(tiny_synthetic, tmp_path):
  from pipeline.input_pipeline import count_labels, make_train_dataset, subjects_and_files
  from tests.trainer.helpers import read_json
  from trainer.data import excluded_cells
  _, files = subjects_and_files(tiny_synthetic, "fold_0")
  _, validation_files = subjects_and_files(tiny_synthetic, "validation")
  left_out = sorted(files)[:3]
  listing = tmp_path / "suspects.csv"  # tools.audit's CSV form; a plain list of names works too
  listing.write_text("file_name,label\n" + "".join(f"{name},all\n" for name in left_out)
                     + f"{sorted(validation_files)[0]},hem\n")
  config = tiny_config(tmp_path / "run", train_splits=("fold_0",), exclude=str(listing), epochs=1,
                       steps_per_epoch=1)
  exclude = excluded_cells(config)
  assert exclude == {*left_out, sorted(validation_files)[0]}
  assert subjects_and_files(tiny_synthetic, "fold_0", exclude)[1] == files - set(left_out)
  counts = count_labels(tiny_synthetic, "fold_0")
  assert sum(count_labels(tiny_synthetic, "fold_0", exclude).values()) == sum(counts.values()) - 3
  assert check_splits(tiny_synthetic, config, exclude) == count_labels(tiny_synthetic, "fold_0", exclude)
  # The training stream: over many passes (labels and images counted), never an excluded image.
  seen = make_train_dataset(tiny_synthetic, "fold_0", image_size=16, batch_size=4, balance="none", seed=1,
                            exclude=exclude).dataset.take(40)
  images = {bytes(image.numpy()) for batch, _ in seen for image in batch}
  assert len(images) == sum(counts.values()) - 3
  (tmp_path / "run").mkdir()  # a folder the user made keeps a failed start's record (test_run_dir.py)
  with pytest.raises(Killed):  # the plan is recorded before training starts; training adds nothing here
    run(config, extra_callbacks=[KillAtTrainBegin()], builder=tiny_synthetic)
  resolved = read_json(tmp_path / "run" / layout.CONFIG)["resolved"]
  assert resolved["excluded_cells"] == sorted(exclude)
  validated = sum(len(labels) for _, labels in val_input(tiny_synthetic, config, 16))
  assert validated == len(validation_files) == 12  # the validation split is never filtered


def test_an_unreadable_or_columnless_exclude_list_is_one_clear_error(tiny_synthetic, tmp_path):
  result = small_trainer(tiny_synthetic.data_dir, f"--exclude={tmp_path}/missing.txt", f"--model_dir={tmp_path}/a")
  assert_one_clear_error(result, f"--exclude={tmp_path}/missing.txt: cannot read it")
  (tmp_path / "bad.csv").write_text("name,label\nx.bmp,all\n")
  result = small_trainer(tiny_synthetic.data_dir, f"--exclude={tmp_path}/bad.csv", f"--model_dir={tmp_path}/b")
  assert_one_clear_error(result, "a CSV needs a file_name column")
  (tmp_path / "binary.npy").write_bytes(bytes(range(256)))
  result = small_trainer(tiny_synthetic.data_dir, f"--exclude={tmp_path}/binary.npy", f"--model_dir={tmp_path}/c")
  assert_one_clear_error(result, f"--exclude={tmp_path}/binary.npy: not a text file")


def test_a_folder_that_is_not_a_prepared_dataset_is_one_clear_error(tmp_path):
  (tmp_path / "empty").mkdir()
  result = small_trainer(tmp_path / "empty", f"--model_dir={tmp_path}/run")
  assert_one_clear_error(result, f"--dataset={tmp_path / 'empty'}: a folder, but not a prepared dataset",
                         "<data_dir>/cnmc/<config>/<version>")
  assert "Parsing builder name" not in result.stderr and not (tmp_path / "run").exists()
