"""The throughput callback reports steady-state speed: the first step of an epoch (tracing, compiling) is not
timed, and an epoch too short to time says nothing rather than a misleading number."""

import keras
import pytest

from trainer import callbacks


class Clock:
  def __init__(self, times):
    self.times = iter(times)

  def __call__(self):
    return next(self.times)


def epoch(monkeypatch, times: list[float], steps: int) -> dict:
  monkeypatch.setattr(callbacks.time, "perf_counter", Clock(times))
  timer = callbacks.ThroughputAndLearningRate(global_batch_size=8)
  model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
  model.compile(optimizer=keras.optimizers.SGD(0.25), loss="mse")
  timer.set_model(model)
  logs = {}
  timer.on_epoch_begin(0)
  for step in range(steps):
    timer.on_train_batch_end(step)
  timer.on_epoch_end(0, logs if steps else None)
  return logs


def test_the_first_step_is_not_timed_and_train_seconds_counts_every_step(monkeypatch):
  # epoch begins at 0; step 1 (tracing) ends at 10 s; steps 2-4 take 1 s each.
  logs = epoch(monkeypatch, [0.0, 10.0, 11.0, 12.0, 13.0], steps=4)
  assert logs["images_per_second"] == pytest.approx(3 * 8 / 3.0)  # 8, not the 32 / 13 an epoch's mean would say
  assert logs["train_seconds"] == pytest.approx(13.0) and logs["learning_rate"] == 0.25


def test_an_epoch_of_two_steps_reports_no_speed(monkeypatch):
  logs = epoch(monkeypatch, [0.0, 10.0, 11.0], steps=2)
  assert "images_per_second" not in logs and logs["train_seconds"] == pytest.approx(11.0)


def test_epoch_headers_count_over_the_run_and_a_one_epoch_phase_gets_one(capsys):
  warmup = callbacks.EpochProgress(run_epochs=3)
  warmup.set_params({"verbose": 2, "epochs": 1, "steps": 3})  # fit(epochs=1): a one-epoch warm-up phase
  warmup.on_epoch_begin(0)
  fine_tune = callbacks.EpochProgress(run_epochs=3)
  fine_tune.set_params({"verbose": 2, "epochs": 3, "steps": 3})
  fine_tune.on_epoch_begin(1)
  assert capsys.readouterr().out.splitlines() == ["Epoch 1/3", "Epoch 2/3"]
  quiet = callbacks.EpochProgress(run_epochs=3)
  quiet.set_params({"verbose": 0, "epochs": 1, "steps": 3})
  quiet.on_epoch_begin(0)
  assert capsys.readouterr().out == ""
