"""evaluate, predict and gradcam from the command line, on a model trained for seconds on the tiny set.

evaluate runs once as a new process (its first test below), and the interrupt tests start and interrupt each
command as a process; the other tests run the commands inside the test process (tests/support/in_process.py),
seconds faster each."""

import csv
import json
import pathlib
import shutil
import subprocess

import keras
import numpy as np
import pytest

from cnmc.run_folder import layout
from cnmc_tfds.cnmc.layout import FINAL_DIR
from cnmc.evaluation.scores import classification_scores
from tests.support import in_process, subprocesses
from tests.trainer.helpers import history


class ValidationPredictions(keras.callbacks.Callback):
  """What the trainer's final model predicts for `images` as training ends, before anything is saved."""

  def __init__(self, images: np.ndarray):
    super().__init__()
    self.images = images

  def on_train_end(self, logs=None):
    self.probabilities = self.model.predict(self.images, verbose=0)[:, 0]


@pytest.fixture(scope="module")
def trained_run(tiny_synthetic, shared_dir):
  """A small_cnn run at 64 px (seconds of training), with trainer_probabilities.json beside it: what its final
  model predicted for the validation split before it was saved. One for every worker of the test run (tests
  only read it)."""
  from tests.support.shared import made_once
  return made_once(shared_dir / "trained" / "run", lambda model_dir: train_once(model_dir, tiny_synthetic))


def train_once(model_dir: pathlib.Path, builder) -> pathlib.Path:
  from pipeline.input_pipeline import make_eval_dataset
  from tests.trainer.helpers import tiny_config
  from trainer.train import run
  recorded = model_dir.parent / "trainer_probabilities.json"  # written last
  if not recorded.exists():
    batches = list(make_eval_dataset(builder, image_size=64, batch_size=32, metadata=("file_name",)))
    names = [name.decode() for batch in batches for name in batch["file_name"].numpy()]
    recorder = ValidationPredictions(np.concatenate([batch["image"].numpy() for batch in batches]))
    run(tiny_config(model_dir, image_size=64, epochs=3, steps_per_epoch=6, validation_steps=0, learning_rate=3e-3),
        extra_callbacks=[recorder], builder=builder)
    recorded.write_text(json.dumps(dict(zip(names, map(float, recorder.probabilities), strict=True))))
  return model_dir


def tool(name: str, *args: str, cwd=None) -> in_process.Finished:
  return in_process.module(f"tools.{name}", *args, cwd=cwd)


def tool_process(name: str, *args: str) -> subprocess.CompletedProcess:
  return subprocesses.module(f"tools.{name}", *args)


def read_csv(path) -> list[dict]:
  with open(path) as f:
    return list(csv.DictReader(f))


def binary_cross_entropy(labels, probabilities) -> float:
  p = np.clip(np.asarray(probabilities, np.float64), 1e-7, 1 - 1e-7)
  y = np.asarray(labels, np.float64)
  return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_evaluate_writes_scores_that_match_its_own_predictions(trained_run, tmp_path):
  out = tmp_path / "eval"
  result = tool_process("evaluate", f"--model_dir={trained_run}", "--tta", f"--output_dir={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  metrics = json.loads((out / "metrics.json").read_text())
  assert metrics["split"] == "validation" and metrics["models"][0].endswith(layout.BEST_MODEL)
  rows = read_csv(out / "predictions.csv")
  labels = [int(r["label"]) for r in rows]
  for name, column in (("plain", "probability"), ("tta", "probability_tta")):
    expected = classification_scores(labels, [float(r[column]) for r in rows])
    for key in ("accuracy", "weighted_f1", "macro_f1", "auc", "sensitivity", "specificity"):
      assert metrics["scores"][name][key] == pytest.approx(expected[key], abs=1e-5), (name, key)
  assert len(rows) == metrics["scores"]["plain"]["images"] == 12
  for name in ("plain", "tta"):  # two ALL and two HEM subjects: an interval over subjects for every score
    found = metrics["intervals"][name]
    assert found["weighted_f1"]["value"] == pytest.approx(metrics["scores"][name]["weighted_f1"])
    assert found["subject_vote"]["value"] == pytest.approx(metrics["per_subject"][name]["vote_accuracy"])
    assert all(s["low"] <= s["value"] <= s["high"] and (s["unit"], s["resamples"]) == ("subject", 2000)
               for s in found.values())
  assert "95 % intervals over subjects" in result.stdout and "  tta: accuracy " in result.stdout
  assert [r["file_name"] for r in rows] == [f"{i}.bmp" for i in range(1, 13)]  # the split's order
  subjects = {r["subject_id"] for r in rows}
  assert {s["subject"] for s in metrics["per_subject"]["plain"]["subjects"]} == subjects
  for picture in ("roc.png", "confusion_matrix.png", "confusion_matrix_tta.png"):
    assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert list((out / "logs").glob("events.out.tfevents.*"))
  assert "weighted_f1" in result.stdout and "subject-level vote accuracy" in result.stdout
  assert "(auc: exact, by scikit-learn; the trainer's val_auc is Keras' approximation over 200" in result.stdout
  assert str(tiny_synthetic_dir(trained_run)) in result.stdout  # it says which data it read


def tiny_synthetic_dir(run_dir) -> str:
  return json.loads((run_dir / layout.CONFIG).read_text())["dataset"]["data_dir"]


def test_the_reloaded_final_model_predicts_what_the_trainer_did(trained_run, tmp_path):
  # Probabilities, not a thresholded score: a cell near 0.5 may flip on a rounding difference.
  result = tool("evaluate", f"--model={trained_run / 'model.keras'}", f"--output_dir={tmp_path / 'final'}")
  assert result.returncode == 0, result.stderr[-3000:]
  rows = read_csv(tmp_path / "final" / "predictions.csv")
  by_name = json.loads((trained_run.parent / "trainer_probabilities.json").read_text())
  reloaded = [float(r["probability"]) for r in rows]
  in_trainer = np.array([by_name[r["file_name"]] for r in rows])
  np.testing.assert_allclose(reloaded, in_trainer, atol=2e-6)
  assert np.abs(in_trainer - 0.5).max() > 0.05  # the model has moved away from a coin flip


def test_the_best_models_loss_is_the_one_the_trainer_logged_for_its_epoch(trained_run, tmp_path):
  # best.keras: the loss the trainer logged for its epoch, recomputed from the reloaded model's predictions.
  result = tool("evaluate", f"--model_dir={trained_run}", f"--output_dir={tmp_path / 'best'}")
  assert result.returncode == 0, result.stderr[-3000:]
  rows = read_csv(tmp_path / "best" / "predictions.csv")
  best_epoch = json.loads((trained_run / layout.RESULTS).read_text())["best_epoch"] - 1
  logged = history(trained_run)[best_epoch]["val_loss"]
  recomputed = binary_cross_entropy([int(r["label"]) for r in rows], [float(r["probability"]) for r in rows])
  assert recomputed == pytest.approx(logged, rel=1e-4), history(trained_run)


def test_evaluate_refuses_the_unlabelled_test_split_and_writes_nothing(trained_run, tmp_path):
  result = tool("evaluate", f"--model_dir={trained_run}", "--split=test", f"--output_dir={tmp_path / 'eval'}")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert "unlabelled final test set" in result.stderr and "tools.predict" in result.stderr
  assert not (tmp_path / "eval").exists()


def test_predict_writes_the_submission_in_numeric_order_and_a_folder_gives_the_same(trained_run, tiny_synthetic,
                                                                                    tmp_path):
  result = tool("predict", f"--model_dir={trained_run}", f"--output_dir={tmp_path / 'split'}")
  assert result.returncode == 0, result.stderr[-3000:]
  rows = read_csv(tmp_path / "split" / "predictions.csv")
  lines = (tmp_path / "split" / "isbi_valid.predict").read_text().splitlines()
  count = tiny_synthetic.info.splits["test"].num_examples
  assert len(lines) == len(rows) == count and set(lines) <= {"0", "1"}
  assert [r["file_name"] for r in rows] == [f"{i}.bmp" for i in range(1, count + 1)]  # 10.bmp after 9.bmp
  assert lines == [r["predicted_class"] for r in rows]
  assert (tmp_path / "split" / "isbi_valid.zip").exists()

  folder = next(pathlib.Path(tiny_synthetic.data_dir).parents[2].rglob(FINAL_DIR))  # the synthetic download
  result = tool("predict", f"--model_dir={trained_run}", f"--images={folder}", f"--output_dir={tmp_path / 'folder'}")
  assert result.returncode == 0, result.stderr[-3000:]
  from_folder = read_csv(tmp_path / "folder" / "predictions.csv")
  assert [r["file_name"] for r in from_folder] == [r["file_name"] for r in rows]
  np.testing.assert_allclose([float(r["probability_all"]) for r in from_folder],
                             [float(r["probability_all"]) for r in rows], atol=1e-5)


def test_predict_names_every_unreadable_image_and_writes_nothing(trained_run, tiny_synthetic, tmp_path):
  source = next(pathlib.Path(tiny_synthetic.data_dir).parents[2].rglob(FINAL_DIR))
  folder = tmp_path / "images"
  shutil.copytree(source, folder)
  (folder / "3.bmp").write_bytes((folder / "3.bmp").read_bytes()[:500])  # truncated
  (folder / "7.bmp").write_text("not an image")
  result = tool("predict", f"--model_dir={trained_run}", f"--images={folder}", f"--output_dir={tmp_path / 'out'}")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert "2 of" in result.stderr and "3.bmp" in result.stderr and "7.bmp" in result.stderr
  assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


@pytest.mark.slow  # a command run; the library has fast tests
def test_gradcam_writes_correct_and_wrong_pictures(trained_run, tmp_path):
  out = tmp_path / "gradcam"
  result = tool("gradcam", f"--model_dir={trained_run}", "--count=3", f"--output_dir={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  cells = json.loads((out / "cells.json").read_text())
  groups = [g for g in ("correct", "wrong") if cells.get(g)]
  assert sum(len(cells.get(g, [])) for g in ("correct", "wrong")) >= 3  # 12 cells: one group has 6 or more
  for group in groups:
    assert len(cells[group]) <= 3 and (out / f"{group}.png").read_bytes()[:4] == b"\x89PNG"
    called_all = [c["probability_all"] >= 0.5 for c in cells[group]]
    right = [a == bool(c["label"]) for a, c in zip(called_all, cells[group], strict=True)]
    assert all(right) if group == "correct" else not any(right)
  assert list((out / "logs").glob("events.out.tfevents.*"))


def copy_of(run_dir, tmp_path) -> pathlib.Path:
  copy = tmp_path / "run_copy"
  shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("logs", "backup", "eval-*", ".lock"))
  return copy


def assert_refused(result, *phrases):
  assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
  for phrase in phrases:
    assert phrase in result.stderr, result.stderr[-3000:]


@pytest.mark.parametrize("where", ["run", "parent", "cwd", "foreign"])
def test_an_output_folder_holding_what_the_tool_did_not_make_is_refused(trained_run, tmp_path, where):
  run_dir = copy_of(trained_run, tmp_path)
  foreign = tmp_path / "notes"
  foreign.mkdir()
  (foreign / "paper.tex").write_text("mine")
  output = {"run": run_dir, "parent": tmp_path, "cwd": ".", "foreign": foreign}[where]  # "." is `foreign`
  before = sorted(p.name for p in tmp_path.rglob("*"))
  result = tool("evaluate", f"--model_dir={run_dir}", f"--output_dir={output}", cwd=foreign)
  assert_refused(result, "--output_dir=", "Choose a")
  assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing deleted, nothing added


def test_a_run_whose_dataset_moved_is_an_error_not_another_dataset(trained_run, tmp_path):
  run_dir = copy_of(trained_run, tmp_path)
  config = json.loads((run_dir / layout.CONFIG).read_text())
  config["dataset"]["data_dir"] = str(tmp_path / "moved_away")
  (run_dir / layout.CONFIG).write_text(json.dumps(config))
  result = tool("predict", f"--model_dir={run_dir}", f"--output_dir={tmp_path / 'out'}")
  assert_refused(result, "synthetic_tiny", str(tmp_path / "moved_away"), "--dataset=")
  assert not (tmp_path / "out").exists()


def test_a_damaged_best_model_falls_back_to_the_final_model_with_a_warning(trained_run, tmp_path):
  run_dir = copy_of(trained_run, tmp_path)
  best = run_dir / layout.BEST_MODEL
  best.write_bytes(best.read_bytes()[: best.stat().st_size // 2])
  result = tool("evaluate", f"--model_dir={run_dir}", f"--output_dir={tmp_path / 'out'}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "best.keras' is damaged" in result.stderr and layout.FINAL_MODEL in result.stderr
  assert json.loads((tmp_path / "out" / "metrics.json").read_text())["models"][0].endswith(layout.FINAL_MODEL)


def test_a_damaged_run_config_is_named(trained_run, tmp_path):
  run_dir = copy_of(trained_run, tmp_path)
  (run_dir / layout.CONFIG).write_text("")
  assert_refused(tool("evaluate", f"--model_dir={run_dir}", f"--output_dir={tmp_path / 'out'}"),
                 "config.json is damaged")


def test_a_model_that_outputs_nan_is_refused(trained_run, tmp_path):
  import pipeline.augment  # noqa: F401  (the model holds its layer)
  import trainer.metrics  # noqa: F401
  run_dir = copy_of(trained_run, tmp_path)
  model = keras.saving.load_model(run_dir / layout.FINAL_MODEL)
  for weight in model.weights:
    weight.assign(np.full(weight.shape, np.nan, weight.dtype))
  model.save(run_dir / "broken.keras")
  result = tool("predict", f"--model={run_dir / 'broken.keras'}", f"--output_dir={tmp_path / 'out'}")
  assert_refused(result, "not a number", "Nothing was written")
  assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def second_model(tmp_path_factory):
  """Another member for ensembles: small_cnn at 48 px (another input size), untrained."""
  from trainer import backbones
  from trainer.model import build_classifier
  path = tmp_path_factory.mktemp("second") / "other48.keras"
  model, _ = build_classifier(backbones.get_backbone("small_cnn"), 48, None, 0.0, seed=5)
  model.save(path)
  return path


def test_evaluate_reports_members_ensemble_tta_and_correction_side_by_side(trained_run, second_model, tmp_path):
  out = tmp_path / "eval"
  result = tool("evaluate", f"--model_dir={trained_run}", f"--model={second_model}", "--tta", "--neighbour_correction",
                "--neighbours=3", "--neighbour_weight=0.5", f"--output_dir={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  metrics = json.loads((out / "metrics.json").read_text())
  methods = ["member_1", "member_1_tta", "member_2", "member_2_tta", "ensemble", "ensemble_tta", "neighbours"]
  assert list(metrics["scores"]) == methods and list(metrics["per_subject"]) == methods
  assert metrics["image_sizes"] == [48, 64]  # --model files first, then --model_dir runs
  assert metrics["neighbour_correction"] == {"neighbours": 3, "weight": 0.5}
  header = result.stdout.splitlines()
  assert any(all(m in line for m in methods) for line in header), result.stdout[-3000:]  # one table, side by side
  assert any(line.startswith("subject vote") for line in header)
  rows = read_csv(out / "predictions.csv")
  column = {m: np.array([float(r[f"probability_{m}"]) for r in rows]) for m in methods}
  np.testing.assert_allclose(column["ensemble"], (column["member_1"] + column["member_2"]) / 2, atol=2e-6)
  np.testing.assert_allclose(column["ensemble_tta"], (column["member_1_tta"] + column["member_2_tta"]) / 2, atol=2e-6)
  assert np.abs(column["neighbours"] - column["ensemble_tta"]).max() > 1e-4  # the correction did something
  labels = [int(r["label"]) for r in rows]
  for m in methods:
    expected = classification_scores(labels, column[m])
    assert metrics["scores"][m]["weighted_f1"] == pytest.approx(expected["weighted_f1"], abs=1e-5), m


def test_an_ensemble_of_a_model_with_itself_is_the_model(trained_run, tmp_path):
  out = tmp_path / "eval"
  best = trained_run / layout.BEST_MODEL
  result = tool("evaluate", f"--model={best}", f"--model={best}", "--tta", f"--output_dir={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  rows = read_csv(out / "predictions.csv")
  for ensemble, member in (("ensemble", "member_1"), ("ensemble_tta", "member_1_tta")):
    np.testing.assert_allclose([float(r[f"probability_{ensemble}"]) for r in rows],
                               [float(r[f"probability_{member}"]) for r in rows], atol=1e-6)


def test_predict_writes_a_corrected_ensemble_submission_for_the_unlabelled_test_set(trained_run, second_model,
                                                                                    tmp_path):
  out = tmp_path / "predict"
  result = tool("predict", f"--model_dir={trained_run}", f"--model={second_model}", "--neighbour_correction",
                "--neighbours=3", f"--output_dir={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  rows = read_csv(out / "predictions.csv")
  corrected = np.array([float(r["probability_all"]) for r in rows])
  ensemble = np.array([float(r["probability_ensemble"]) for r in rows])
  members = [np.array([float(r[f"probability_member_{i}"]) for r in rows]) for i in (1, 2)]
  np.testing.assert_allclose(ensemble, (members[0] + members[1]) / 2, atol=2e-6)
  assert np.abs(corrected - ensemble).max() > 1e-4
  lines = (out / "isbi_valid.predict").read_text().split()
  assert lines == [str(int(p >= 0.5)) for p in corrected[np.argsort([int(r["file_name"].split(".")[0]) for r in rows])]]
  assert "neighbours" in result.stdout


def test_gradcam_refuses_an_ensemble(trained_run, second_model, tmp_path):
  result = tool("gradcam", f"--model_dir={trained_run}", f"--model={second_model}", f"--output_dir={tmp_path / 'g'}")
  assert result.returncode == 1 and "explains one model" in result.stderr


def test_a_run_folder_that_does_not_exist_is_named_as_such(tmp_path):
  result = tool("predict", f"--model_dir={tmp_path}/runs/does-not-exist")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert f"--model_dir={tmp_path}/runs/does-not-exist: no such folder" in result.stderr


def test_a_damaged_dataset_is_named_by_the_tools_too(trained_run, tiny_synthetic, tmp_path):
  folder = tmp_path / "cnmc" / "synthetic_tiny" / "1.0.0"
  shutil.copytree(tiny_synthetic.data_dir, folder)
  shard = next(folder.glob("cnmc-validation.tfrecord-*"))
  shard.write_bytes(shard.read_bytes()[:1000])
  result = tool("evaluate", f"--model_dir={trained_run}", f"--dataset={folder}", f"--output_dir={tmp_path}/out")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert f"{folder} is damaged: {shard}" in result.stderr and "--overwrite" in result.stderr
  assert not (tmp_path / "out").exists()


# The tool as a user runs it, but its predictions take a minute: a Ctrl-C then lands mid-work, every time.
SLOW_PREDICTIONS = """
import runpy, sys, time
from cnmc.cli import main
share_gpu_memory = main.share_gpu_memory
def and_slow_predictions():  # the tool has started TensorFlow (quietly) and is about to work
  share_gpu_memory()
  from cnmc.evaluation import inference
  predict = inference.predict_models  # every prediction pass goes through it
  def slowly(models, batches, *args, **kwargs):
    def slow_batches():
      print("PREDICTING", flush=True)
      time.sleep(60)
      yield from batches
    return predict(models, slow_batches(), *args, **kwargs)
  inference.predict_models = slowly
main.share_gpu_memory = and_slow_predictions
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", ["evaluate", "predict", "gradcam"])
def test_ctrl_c_stops_a_tool_in_one_line_and_leaves_no_result(trained_run, tmp_path, name):
  import signal
  import sys
  process = subprocess.Popen([sys.executable, "-c", SLOW_PREDICTIONS, f"tools.{name}", f"--model_dir={trained_run}",
                              f"--output_dir={tmp_path}/out"], cwd=subprocesses.REPO, env=subprocesses.environment(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=subprocesses.as_from_a_terminal)
  for line in process.stdout:  # the tool has started its work
    if line.startswith("PREDICTING"):
      break
  process.send_signal(signal.SIGINT)
  _, stderr = process.communicate(timeout=60)
  lines = [line for line in stderr.replace("\r", "\n").splitlines()
           if line.strip() and not line.startswith("Predicting")]  # the progress bar, closed on its own line
  assert process.returncode == 130 and len(lines) == 1, stderr[-2000:]
  assert lines[0].startswith("error: Interrupted (Ctrl-C)")
  assert not (tmp_path / "out").exists()
