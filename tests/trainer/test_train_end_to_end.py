"""One real training run on the synthetic set writes every output, and the loss falls."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from cnmc.run_folder import layout
from trainer import profiles
from trainer.train import run
from tests.trainer.helpers import best_epoch, history, read_json, tiny_config
from tests.support.pictures import assert_picture, tensorboard_pictures


IMAGES = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)


class FinalPredictions(keras.callbacks.Callback):
  """What the trainer's own model (augmentation and all, at inference) says about IMAGES at the end."""

  def on_train_end(self, logs=None):
    self.probabilities = keras.ops.convert_to_numpy(self.model(IMAGES, training=False))


@pytest.fixture(scope="module")
def finished_run(tiny_synthetic, shared_dir):
  """(run folder, results.json): one run for every worker of the test run (tests only read it)."""
  from tests.support.shared import made_once
  return made_once(shared_dir / "finished_run", lambda model_dir: train_once(model_dir, tiny_synthetic))


def train_once(model_dir, builder):
  if not (model_dir / "trainer_predictions.npy").exists():  # written last
    final = FinalPredictions()
    run(tiny_config(model_dir, profile_steps=(2, 4), saved_model=True), extra_callbacks=[final], builder=builder)
    np.save(model_dir / "trainer_predictions.npy", final.probabilities)
  return model_dir, read_json(model_dir / layout.RESULTS)


# A user's plain session: Keras and TensorFlow only, nothing of this project imported.
PLAIN_KERAS = """
import json, sys
import keras, numpy as np, tensorflow as tf
images = np.load(sys.argv[1])
out = {name: keras.saving.load_model(path).predict(images, verbose=0).ravel().tolist()
       for name, path in (("final", sys.argv[2]), ("best", sys.argv[3]))}
served = tf.saved_model.load(sys.argv[4])  # keep it: its variables die with it
out["saved_model"] = served.serve(tf.constant(images)).numpy().ravel().tolist()
out["project_modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("trainer", "pipeline", "cnmc_tfds"))
print(json.dumps(out))
"""


def scalar_tags(log_dir) -> set:
  accumulator = EventAccumulator(str(log_dir), size_guidance={"tensors": 0, "images": 0})
  accumulator.Reload()
  return set(accumulator.Tags()["tensors"]) | set(accumulator.Tags()["scalars"])


def test_resolved_configuration_is_written(finished_run):
  model_dir, _ = finished_run
  config = read_json(model_dir / layout.CONFIG)
  assert config["flags"]["backbone"] == "small_cnn" and config["resolved"]["image_size"] == 32
  assert config["resolved"]["precision"] == "float32" and config["resolved"]["xla"] is False  # CPU auto
  assert config["dataset"] == {**config["dataset"], "name": "cnmc", "config": "synthetic_tiny", "version": "1.0.0"}
  assert config["versions"]["tensorflow"] == tf.__version__
  assert config["resolved"]["profile_steps"] == "2,4"
  # The plan, resolved once: what the run trained on and how, as the console said it.
  resolved = config["resolved"]
  assert resolved["steps_per_epoch"] == 3 and resolved["effective_batch_size"] == 8
  assert resolved["training_images"] == {"HEM": 18, "ALL": 36} and resolved["excluded_cells"] == []


def test_every_epoch_metric_reaches_tensorboard(finished_run):
  model_dir, _ = finished_run
  train, val = scalar_tags(model_dir / "logs" / "train"), scalar_tags(model_dir / "logs" / "validation")
  for name in ("loss", "accuracy", "weighted_f1", "auc", "sensitivity", "specificity"):
    assert f"epoch_{name}" in train and f"epoch_{name}" in val, name
  assert {"epoch_images_per_second", "epoch_learning_rate"} <= train
  accumulator = EventAccumulator(str(model_dir / "logs" / "validation"), size_guidance={"tensors": 0})
  accumulator.Reload()
  assert [event.step for event in accumulator.Tensors("epoch_weighted_f1")] == [1, 2]  # as history.csv counts


def test_pictures_are_written_as_png_and_to_tensorboard(finished_run):
  model_dir, _ = finished_run
  samples = assert_picture(model_dir / "augmented_samples.png", model_dir / "logs" / "train", "augmented_samples")
  assert samples.shape[0] >= 2 * 32 and samples.shape[1] >= 4 * 32  # a grid of 32 px cells
  best = read_json(model_dir / layout.RESULTS)["best_epoch"]  # the PNG shows the epoch best.keras holds
  assert_picture(model_dir / "confusion_matrix.png", model_dir / "logs" / "validation", "confusion_matrix", best)
  assert len(tensorboard_pictures(model_dir / "logs" / "validation", "confusion_matrix")) == 2  # one per epoch


def test_exported_models_load_in_plain_keras_and_predict_what_the_trainer_does(finished_run, tmp_path):
  import json
  from tests.support.subprocesses import python
  model_dir, results = finished_run
  np.save(tmp_path / "images.npy", IMAGES)
  result = python("-c", PLAIN_KERAS, str(tmp_path / "images.npy"), results["final_model"], results["best_model"],
                  results["saved_model"])
  assert result.returncode == 0, result.stderr[-3000:]
  loaded = json.loads(result.stdout.strip().splitlines()[-1])
  assert loaded["project_modules"] == []
  in_trainer = np.load(model_dir / "trainer_predictions.npy").ravel()
  np.testing.assert_allclose(loaded["final"], in_trainer, atol=1e-5)
  np.testing.assert_allclose(loaded["saved_model"], in_trainer, atol=1e-5)
  assert len(loaded["best"]) == 3 and all(0 <= p <= 1 for p in loaded["best"])
  assert len(history(model_dir)) == 2 and results["best_epoch"] == best_epoch(model_dir)


def test_profile_has_step_markers(finished_run):
  # Converted by xprof, as TensorBoard's Profile tab does: steps 2-4 were profiled.
  summary = profiles.summarise(profiles.newest_profile(str(finished_run[0])))
  assert summary["steps_seen"] == 3
  assert summary["step_time_ms"] > 0 and 0 <= summary["input_wait_share"] <= 1
  assert "input" in summary["conclusion"]


def test_a_finished_run_is_not_trained_again(finished_run, tiny_synthetic):
  model_dir, results = finished_run
  assert run(tiny_config(model_dir, profile_steps=(2, 4), saved_model=True), builder=tiny_synthetic) == results
  assert len(history(model_dir)) == 2


def test_loss_falls_over_a_few_dozen_steps(tiny_synthetic, tmp_path):
  config = tiny_config(tmp_path, epochs=4, steps_per_epoch=10, augmentation="none",
                       learning_rate=3e-3)
  run(config, builder=tiny_synthetic)
  losses = [row["loss"] for row in history(tmp_path)]
  assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.slow  # two runs and the profiler: ~17 s
def test_by_default_one_profile_is_recorded_early_in_epoch_two_and_not_again_after_a_resume(tiny_synthetic,
                                                                                           tmp_path):
  from tests.trainer.test_checkpoints import Killed, KillAfterEpoch
  config = tiny_config(tmp_path, epochs=3, steps_per_epoch=3, profile_steps=None)
  with pytest.raises(Killed):
    run(config, extra_callbacks=[KillAfterEpoch(1)], builder=tiny_synthetic)  # epoch 2 done, profiled
  run(config, builder=tiny_synthetic)  # resumes at epoch 3
  assert len(profiles.profile_runs(tmp_path)) == 1
  assert profiles.summarise(profiles.newest_profile(str(tmp_path)))["steps_seen"] == 2  # steps 4-5: epoch 2
  assert read_json(tmp_path / layout.CONFIG)["resolved"]["profile_steps"] == "4,5"  # what auto chose, recorded


def test_settings_and_best_scores_reach_the_hparams_dashboard(finished_run):
  from tensorboard.plugins.hparams import plugin_data_pb2
  model_dir, _ = finished_run
  accumulator = EventAccumulator(str(model_dir / "logs" / "hparams"), size_guidance={"tensors": 0})
  accumulator.Reload()
  content = accumulator.PluginTagToContent("hparams")
  session = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
  assert session.hparams["backbone"].string_value == "small_cnn"
  assert session.hparams["batch_size"].number_value == 8
  assert session.hparams["runtime_precision"].string_value == "float32"
  assert session.hparams["profile_steps"].string_value == "2,4"  # the steps profiled, not the flag's "auto"
  best_row = history(model_dir)[json_best_epoch(model_dir)]
  for metric in ("weighted_f1", "auc", "sensitivity", "specificity"):
    event = accumulator.Tensors(f"hparams/best_val_{metric}")[0]
    assert tf.make_ndarray(event.tensor_proto) == pytest.approx(best_row[f"val_{metric}"], abs=1e-6)


def json_best_epoch(model_dir) -> int:
  return read_json(model_dir / layout.RESULTS)["best_epoch"] - 1


def test_the_console_says_how_many_images_each_validation_reads_and_names_only_what_was_recorded(tiny_synthetic,
                                                                                                  tmp_path):
  from tests.trainer.helpers import small_trainer
  result = small_trainer(tiny_synthetic.data_dir, "--epochs=1", f"--model_dir={tmp_path}")  # 1 validation step of 8
  assert result.returncode == 0, result.stderr[-2000:]
  assert "Validating on 8 of 12 images of validation each epoch (--validation_steps=1)." in result.stdout
  done = next(line for line in result.stdout.splitlines() if line.startswith("Done: "))
  assert ", 1 epoch; best validation weighted F1 " in done and " (8 of 12 images of validation), 95 % interval " in done
  results = json.loads((tmp_path / layout.RESULTS).read_text())
  interval = results["best_val_weighted_f1_interval"]
  assert results["best_val_intervals"]["weighted_f1"] == interval
  assert set(results["best_val_intervals"]) == {"accuracy", "weighted_f1", "auc", "sensitivity", "specificity"}
  assert done.endswith(f" over subjects [{interval['low']:.3f}, {interval['high']:.3f}].")
  assert (interval["unit"], interval["resamples"]) == ("subject", 2000) and interval["low"] <= interval["high"]
  assert f"weighted F1 {interval['value']:.4f} at epoch 1" in done  # best.keras rescored: the logged value
  assert f"Outputs in {tmp_path}; curves and pictures: tensorboard" in result.stdout  # one epoch: no profile
