"""The training recipe (trainer/recipe.py, trainer/averaging.py, trainer/model.py's TrainStep): warm-up, clipping,
label smoothing, mixing and the weights' moving average do what they promise, number for number (accumulation:
tests/trainer/test_accumulation.py)."""

import dataclasses

import keras
import numpy as np
import pytest

from cnmc.run_folder import layout
from trainer import recipe
from trainer.averaging import AveragedWeights, ValidateAveraged
from trainer.config import TrainConfig
from trainer.model import TrainStep, train_step_for


def rates(schedule, steps: int) -> list[float]:
  return [float(schedule(step)) if callable(schedule) else schedule for step in range(steps)]


def test_warm_up_rises_linearly_from_zero_then_the_cosine_decays_to_zero():
  schedule = recipe.learning_rate_schedule(0.1, "cosine", steps=14, warmup_steps=4)
  values = rates(schedule, 15)
  np.testing.assert_allclose(values[:5], [0.0, 0.025, 0.05, 0.075, 0.1], atol=1e-7)
  assert all(a >= b for a, b in zip(values[4:-1], values[5:], strict=True))  # then only down
  assert values[9] == pytest.approx(0.05, abs=1e-6) and values[14] == pytest.approx(0.0, abs=1e-7)  # half-way: half


def test_warm_up_before_a_constant_rate_then_holds_it():
  values = rates(recipe.learning_rate_schedule(0.1, "constant", steps=10, warmup_steps=2), 10)
  np.testing.assert_allclose(values, [0.0, 0.05] + [0.1] * 8, atol=1e-7)


def test_without_warm_up_the_schedules_are_as_before_and_a_long_warm_up_is_cut_to_the_phase():
  assert recipe.learning_rate_schedule(0.1, "constant", steps=10) == 0.1
  assert rates(recipe.learning_rate_schedule(0.1, "cosine", steps=10), 1) == [pytest.approx(0.1)]
  values = rates(recipe.learning_rate_schedule(0.1, "cosine", steps=3, warmup_steps=50), 3)
  assert values[2] == pytest.approx(0.1)  # warmed up by the phase's last step


def dense_model(optimizer) -> keras.Model:
  keras.utils.set_random_seed(1)
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
  model.compile(optimizer=optimizer, loss="mse")
  return model


def test_the_gradients_are_clipped_to_the_global_norm():
  model = dense_model(recipe.optimizer("sgd", 1.0, "constant", steps=10, clipnorm=0.5))
  before = [w.copy() for w in model.get_weights()]
  data = np.random.default_rng(0)
  model.train_on_batch(data.normal(size=(8, 3)) * 100, data.normal(size=(8, 1)) * 100)  # a huge gradient
  step = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(model.get_weights(), before, strict=True)))
  assert step == pytest.approx(0.5, rel=1e-5)  # sgd's first step: learning rate x the clipped gradient


def batches(count: int, size: int = 4):
  data = np.random.default_rng(5)
  return [(data.normal(size=(size, 3)).astype("float32"), data.normal(size=(size, 1)).astype("float32"))
          for _ in range(count)]


def test_the_average_follows_the_weights_with_the_decay_and_the_swap_is_exact():
  model = dense_model(recipe.optimizer("sgd", 0.1, "constant", steps=10, ema_decay=0.75))
  expected = None
  for images, targets in batches(3):
    model.train_on_batch(images, targets)
    weights = model.get_weights()
    expected = weights if expected is None else [0.75 * a + 0.25 * w for a, w in zip(expected, weights, strict=True)]
  raw = model.get_weights()
  with AveragedWeights(model).held():
    for held, average in zip(model.get_weights(), expected, strict=True):
      np.testing.assert_allclose(held, average, rtol=1e-6, atol=1e-7)
  for back, weights in zip(model.get_weights(), raw, strict=True):
    np.testing.assert_array_equal(back, weights)  # bit for bit: training goes on from exactly these


def test_fit_validates_the_average_and_ends_holding_the_raw_weights_it_would_have_without_it():
  train, (val_images, val_targets) = batches(4), batches(1, size=16)[0]
  images, targets = np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train])
  plain = dense_model(recipe.optimizer("adam", 0.05, "constant", steps=10))
  plain.fit(images, targets, batch_size=4, epochs=2, shuffle=False, verbose=0)
  averaged = dense_model(recipe.optimizer("adam", 0.05, "constant", steps=10, ema_decay=0.5))
  swap = AveragedWeights(averaged)
  logged = averaged.fit(images, targets, batch_size=4, epochs=2, shuffle=False, verbose=0,
                        validation_data=(val_images, val_targets), callbacks=[ValidateAveraged(swap)]).history
  for a, b in zip(averaged.get_weights(), plain.get_weights(), strict=True):
    np.testing.assert_array_equal(a, b)  # the average never steered training, and fit did not swap it in
  with swap.held():
    assert averaged.evaluate(val_images, val_targets, verbose=0) == pytest.approx(logged["val_loss"][-1], rel=1e-6)
  assert averaged.evaluate(val_images, val_targets, verbose=0) != pytest.approx(logged["val_loss"][-1], rel=1e-3)


def classifier(smoothing: float) -> TrainStep:
  inputs = keras.Input((1,))
  model = train_step_for(keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs)),
                         TrainConfig(augmentation="none", label_smoothing=smoothing))
  model.compile(loss=keras.losses.BinaryCrossentropy())
  return model


def test_label_smoothing_changes_the_training_loss_only():
  model = classifier(0.2)
  labels, predicted = np.array([1.0, 0.0]), np.array([[0.7], [0.4]], "float32")
  binary_cross_entropy = keras.losses.BinaryCrossentropy()
  training = float(model.compute_loss(y=labels, y_pred=predicted, training=True))
  assert training == pytest.approx(float(binary_cross_entropy(np.array([0.9, 0.1]), predicted)), rel=1e-6)
  validation = float(model.compute_loss(y=labels, y_pred=predicted, training=False))
  assert validation == pytest.approx(float(binary_cross_entropy(labels, predicted)), rel=1e-6)
  assert float(classifier(0.0).compute_loss(y=labels, y_pred=predicted, training=True)) == pytest.approx(validation)


@pytest.mark.slow  # float16 under XLA compiles for a while on a CPU
def test_float16_with_xla_and_the_whole_recipe_trains_with_a_finite_recorded_loss_scale(tiny_synthetic, tmp_path):
  # The path a GPU takes by default (loss scaling under XLA), here on the CPU with every recipe feature on.
  from tests.trainer.helpers import history, read_json, tiny_config
  from trainer.train import run
  run(tiny_config(tmp_path, mixed_precision="float16", xla="on", epochs=3, steps_per_epoch=8, learning_rate=3e-3,
                  warmup_steps=2, clipnorm=1.0, accumulation_steps=2, label_smoothing=0.1, ema_decay=0.9,
                  mixup_alpha=0.4, cutmix_alpha=1.0), builder=tiny_synthetic)
  rows = history(tmp_path)
  resolved = read_json(tmp_path / layout.CONFIG)["resolved"]
  assert (resolved["precision"], resolved["xla"], resolved["effective_batch_size"]) == ("mixed_float16", True, 16)
  assert keras.mixed_precision.global_policy().name == "float32"  # the caller's policy is back after the run
  assert all(np.isfinite(row["loss_scale"]) and row["loss_scale"] >= 1 for row in rows)
  assert rows[-1]["loss"] < rows[0]["loss"]


def test_under_ema_the_models_kept_and_exported_are_the_validated_averages(tiny_synthetic, tmp_path):
  # Each saved model, reloaded, scores the validation batches exactly as its epoch's logged validation did.
  from tests.trainer.helpers import history, tiny_config
  from trainer import data
  from trainer.train import run
  config = tiny_config(tmp_path, epochs=3, steps_per_epoch=4, learning_rate=3e-3, ema_decay=0.5)
  results = run(config, builder=tiny_synthetic)
  rows, val_batches = history(tmp_path), data.val_input(tiny_synthetic, config, 32)
  for name, epoch in ((layout.BEST_MODEL, results["best_epoch"]), (layout.FINAL_MODEL, 3)):
    saved = keras.saving.load_model(tmp_path / name)
    saved.compile(loss=keras.losses.BinaryCrossentropy())
    assert saved.evaluate(val_batches, verbose=0) == pytest.approx(rows[epoch - 1]["val_loss"], rel=1e-5), name


def test_a_mixed_train_step_takes_soft_targets_for_the_loss_and_hard_labels_for_the_metrics():
  inputs = keras.Input((4, 4, 3))
  classifier = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs)))
  model = train_step_for(classifier, TrainConfig(augmentation="none", mixup_alpha=0.4, seed=1))
  mixer = model.mixing
  model.compile(keras.optimizers.SGD(0.0), keras.losses.BinaryCrossentropy(),
                metrics=[keras.metrics.BinaryAccuracy(name="accuracy")], jit_compile=False)
  data = np.random.default_rng(1)
  images = data.integers(0, 4, (8, 4, 4, 3), dtype=np.uint8)  # small: the sigmoid stays far from saturation
  labels, weights = np.array([1, 0, 0, 1, 0, 0, 1, 1]), data.uniform(0.5, 2.0, 8).astype("float32")
  state = keras.ops.convert_to_numpy(mixer.seed_generator.state)
  mixed = {k: v.numpy() for k, v in mixer(images.astype("float32"), labels, weights).items()}
  assert not np.array_equal(mixed["targets"], labels)  # mixed indeed
  predicted = classifier(mixed["images"]).numpy()
  mixer.seed_generator.state.assign(state)  # the step draws the same
  logs = model.train_on_batch(images, labels, sample_weight=weights, return_dict=True)
  loss = keras.losses.BinaryCrossentropy()(mixed["targets"][:, None], predicted, sample_weight=mixed["weights"])
  assert logs["loss"] == pytest.approx(float(loss), rel=1e-5)
  hits = ((predicted[:, 0] > 0.5) == (mixed["labels"] == 1)).astype(float)
  assert logs["accuracy"] == pytest.approx(hits.mean())  # compile(metrics=) are unweighted in Keras
  assert hits.mean() != pytest.approx(((predicted[:, 0] > 0.5) == (labels == 1)).mean())  # not the true labels


def test_each_compared_feature_is_one_row_and_all_together_has_every_change():
  import dataclasses

  from trainer.config import TrainConfig
  from trainer.recipe import compared_recipes
  variants = compared_recipes(16, 20)
  assert list(variants) == ["plain", "ema", "label_smoothing", "warmup", "clipping", "accumulation", "mixup",
                            "cutmix", "all"]
  assert variants["plain"][1] == {}
  everything = variants["all"][1]
  for name, (_, changes) in variants.items():
    assert changes.items() <= everything.items(), name
    dataclasses.replace(TrainConfig(), **changes)  # every change is a setting
  assert everything["warmup_steps"] == 20  # the first epoch


def test_compared_accumulation_keeps_the_effective_batch_and_the_steps_in_half_the_batch():
  from trainer.recipe import compared_recipes
  accumulated = compared_recipes(16, 20)["accumulation"][1]
  assert accumulated == {"accumulation_steps": 2, "batch_size": 8}  # updates of 16 images, 20 of them per epoch
  assert dataclasses.replace(TrainConfig(batch_size=16), **accumulated).effective_batch_size == 16
