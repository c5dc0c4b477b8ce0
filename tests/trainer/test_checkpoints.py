"""The per-epoch commit (trainer/checkpoints.py): what a rerun finds, restores and trains again.

The commit is exercised here on a two-layer model, in milliseconds; tests/trainer/test_kill_drill.py kills
real training processes at each of its writes.
"""

import json

import keras
import numpy as np
import pytest

from cnmc.run_folder import layout
from tests.trainer.helpers import history, tiny_config
from trainer import checkpoints
from trainer.errors import TrainerError
from trainer.train import run


def small_model(seed: int = 0) -> keras.Model:
  keras.utils.set_random_seed(seed)
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
  model.compile(keras.optimizers.Adam(0.01), "mse")
  return model


def train_one_epoch(model: keras.Model, seed: int) -> None:
  data = np.random.default_rng(seed)
  model.fit(data.normal(size=(16, 3)), data.normal(size=(16, 1)), epochs=1, batch_size=8, verbose=0)


def committed_run(model_dir, scores: list[float]) -> tuple[keras.Model, checkpoints.EpochCommit]:
  """A run of len(scores) epochs, each committed with that validation score."""
  model = small_model()
  commit = checkpoints.EpochCommit(str(model_dir), checkpoints.load_state(str(model_dir)), "val_score", model)
  commit.set_model(model)
  for epoch, score in enumerate(scores):
    train_one_epoch(model, seed=epoch)
    commit.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "val_score": score})
  return model, commit


def test_each_commit_records_history_best_and_the_two_newest_backups(tmp_path):
  committed_run(tmp_path, [0.5, 0.9, 0.7])
  state = checkpoints.load_state(str(tmp_path))
  assert state.completed_epochs == 3 and state.best == {"epoch": 1, "value": 0.9}
  assert state.weights == ["epoch_0003.weights.h5", "epoch_0002.weights.h5"]
  assert sorted(p.name for p in (tmp_path / layout.BACKUP_DIR).iterdir()) == [
      "epoch_0002.weights.h5", "epoch_0003.weights.h5", layout.STATE]
  assert [row["epoch"] for row in history(tmp_path)] == [1, 2, 3]  # counted from 1 for people
  assert [row["val_score"] for row in history(tmp_path)] == [0.5, 0.9, 0.7]
  assert (tmp_path / layout.BEST_MODEL).exists() and not list(tmp_path.glob("best.*.partial.keras"))


def test_restored_weights_and_optimizer_are_the_committed_ones_bit_for_bit(tmp_path):
  trained, _ = committed_run(tmp_path, [0.5, 0.6])
  fresh = small_model(seed=1)
  checkpoints.restore_weights(str(tmp_path), checkpoints.load_state(str(tmp_path)), fresh, with_optimizer=True)
  for a, b in zip(trained.weights, fresh.weights, strict=True):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  for a, b in zip(trained.optimizer.variables, fresh.optimizer.variables, strict=True):
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # Adam's moments and step count: the next step is the same


def test_a_damaged_newest_backup_falls_back_to_the_one_before_and_forgets_the_epochs_after(tmp_path, caplog):
  committed_run(tmp_path, [0.5, 0.4])
  newest = tmp_path / layout.BACKUP_DIR / "epoch_0002.weights.h5"
  newest.write_bytes(newest.read_bytes()[:1000])
  caplog.set_level("WARNING")
  state = checkpoints.restore_weights(str(tmp_path), checkpoints.load_state(str(tmp_path)), small_model(),
                                      with_optimizer=True)
  assert state.completed_epochs == 1 and state.weights == ["epoch_0001.weights.h5"]
  assert state.best == {"epoch": 0, "value": 0.5}
  assert "cannot be read" in caplog.text


def test_no_readable_backup_is_an_error_naming_the_folder(tmp_path):
  committed_run(tmp_path, [0.5])
  (tmp_path / layout.BACKUP_DIR / "epoch_0001.weights.h5").write_bytes(b"")
  with pytest.raises(TrainerError, match=f"No backup in {tmp_path}/backup can be read"):
    checkpoints.restore_weights(str(tmp_path), checkpoints.load_state(str(tmp_path)), small_model(), True)


def test_a_commit_cut_off_before_its_follow_up_is_finished_by_the_next_load(tmp_path):
  _, commit = committed_run(tmp_path, [0.5])
  state = checkpoints.RunState(history=[*commit.state.history, {"epoch": 1, "loss": 0.2, "val_score": 0.8}],
                               best={"epoch": 1, "value": 0.8},
                               weights=["epoch_0002.weights.h5", "epoch_0001.weights.h5"])
  small_model().save_weights(tmp_path / layout.BACKUP_DIR / "epoch_0002.weights.h5")
  small_model().save(tmp_path / "best.0001.partial.keras")
  (tmp_path / "best.0005.partial.keras").write_text("an uncommitted epoch's")
  (tmp_path / layout.BACKUP_DIR / layout.STATE).write_text(json.dumps(state.to_json()))  # killed right here
  assert checkpoints.load_state(str(tmp_path)) == state
  assert [row["epoch"] for row in history(tmp_path)] == [1, 2]
  assert not list(tmp_path.glob("best.*.partial.keras"))  # the committed one is best.keras, the stray is gone


def test_a_damaged_commit_record_is_named_with_what_to_do(tmp_path):
  committed_run(tmp_path, [0.5])
  (tmp_path / layout.BACKUP_DIR / layout.STATE).write_text("{")
  with pytest.raises(TrainerError, match="state.json is damaged .* new --model_dir"):
    checkpoints.load_state(str(tmp_path))


def test_an_epoch_out_of_order_is_never_committed(tmp_path):
  _, commit = committed_run(tmp_path, [0.5])
  with pytest.raises(RuntimeError, match="epoch 3 follows 1 committed epochs"):
    commit.on_epoch_end(3, {"loss": 0.1})


@pytest.mark.parametrize("logs,where", [({"loss": float("nan")}, "step 3"), ({"loss": float("inf")}, "step 3")])
def test_a_non_finite_loss_stops_training_saying_where(logs, where):
  stop = checkpoints.StopOnNonFiniteLoss("fine_tune")
  stop.on_epoch_begin(4)
  stop.on_train_batch_end(1, {"loss": 0.3})  # finite: nothing happens
  with pytest.raises(checkpoints.TrainingDiverged, match=f"phase fine_tune, epoch 5, {where}"):
    stop.on_train_batch_end(2, logs)


def test_a_run_folder_with_history_but_no_commit_record_is_refused_and_left_alone(tiny_synthetic, tmp_path):
  (tmp_path / layout.HISTORY).write_text("epoch,loss\n0,0.7\n")
  with pytest.raises(TrainerError, match="cannot be resumed safely"):
    run(tiny_config(tmp_path), builder=tiny_synthetic)
  assert (tmp_path / layout.HISTORY).read_text() == "epoch,loss\n0,0.7\n"


class Killed(Exception):
  pass


class KillAfterEpoch(keras.callbacks.Callback):
  """Stands in for a killed process: raises once the epoch (and its commit) is done."""

  def __init__(self, epoch: int):
    super().__init__()
    self.epoch = epoch

  def on_epoch_end(self, epoch, logs=None):
    if epoch == self.epoch:
      raise Killed()


class EpochRecorder(keras.callbacks.Callback):
  def __init__(self):
    super().__init__()
    self.epochs = []

  def on_epoch_begin(self, epoch, logs=None):
    self.epochs.append(epoch)


def test_a_stopped_run_resumes_at_the_next_epoch_and_skips_the_finished_warmup(tiny_synthetic, tmp_path):
  # Two phases need pretrained weights: use a file of weights saved from a random backbone.
  from trainer import backbones
  weights = tmp_path / "small_cnn.weights.h5"
  backbones.get_backbone("small_cnn").build((32, 32, 3), None).save_weights(weights)
  config = tiny_config(tmp_path / "run", weights=str(weights), epochs=3, warmup_epochs=1, steps_per_epoch=2,
                       validation_steps=1)
  with pytest.raises(Killed):  # epoch 0 warms up, epoch 1 is the first fine-tuning one
    run(config, extra_callbacks=[KillAfterEpoch(1)], builder=tiny_synthetic)
  assert not (tmp_path / "run" / layout.RESULTS).exists()
  recorder = EpochRecorder()
  run(config, extra_callbacks=[recorder], builder=tiny_synthetic)
  assert recorder.epochs == [2]  # neither the warm-up nor fine-tuning epoch 1 is trained again
  assert [int(row["epoch"]) for row in history(tmp_path / "run")] == [1, 2, 3]
  assert (tmp_path / "run" / layout.RESULTS).exists()


class PoisonAfterEpoch(keras.callbacks.Callback):
  """Makes the weights NaN once `epoch` has been committed, as a diverging step would."""

  def __init__(self, epoch):
    super().__init__()
    self.epoch = epoch

  def on_epoch_end(self, epoch, logs=None):
    if epoch == self.epoch:
      for weight in self.model.trainable_weights:
        weight.assign(np.full(weight.shape, np.nan, weight.dtype))


def test_divergence_keeps_the_last_good_epoch_and_best_model(tiny_synthetic, tmp_path):
  with pytest.raises(checkpoints.TrainingDiverged, match="epoch 2, step 1"):
    run(tiny_config(tmp_path, epochs=3), extra_callbacks=[PoisonAfterEpoch(0)], builder=tiny_synthetic)
  assert [int(row["epoch"]) for row in history(tmp_path)] == [1]
  images = np.zeros((1, 32, 32, 3), np.uint8)
  import pipeline.augment  # noqa: F401  (the model holds its layer)
  import trainer.metrics  # noqa: F401
  assert np.isfinite(keras.saving.load_model(tmp_path / layout.BEST_MODEL).predict(images, verbose=0)).all()
  assert not (tmp_path / layout.RESULTS).exists()


@pytest.mark.slow  # the in-process divergence test above is the fast one
def test_a_diverging_command_stops_saying_where_and_what_to_try(tiny_synthetic, tmp_path):
  from tests.trainer.helpers import assert_one_clear_error, small_trainer
  result = small_trainer(tiny_synthetic.data_dir, "--learning_rate=1e30", "--optimizer=sgd", f"--model_dir={tmp_path}")
  assert_one_clear_error(result, "Training diverged", "phase train, epoch 1", "--learning_rate",
                         "--mixed_precision=float32")
  assert not (tmp_path / layout.RESULTS).exists() and not (tmp_path / layout.FINAL_MODEL).exists()
