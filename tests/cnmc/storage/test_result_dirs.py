"""Result folders never delete what the tool did not make, and are complete or absent."""

import os

import pytest

from cnmc.storage import result_dirs


def make_run(tmp_path):
  run = tmp_path / "run"
  run.mkdir()
  (run / "best.keras").write_text("model")
  (run / "config.json").write_text("{}")
  return run


@pytest.mark.parametrize("choose", ["run", "parent", "cwd", "foreign"])
def test_unsafe_output_folders_are_refused_and_nothing_is_touched(tmp_path, monkeypatch, choose):
  run = make_run(tmp_path)
  foreign = tmp_path / "mine"
  foreign.mkdir()
  (foreign / "thesis.tex").write_text("a week of writing")
  monkeypatch.chdir(foreign if choose == "cwd" else tmp_path)
  path = {"run": run, "parent": tmp_path, "cwd": foreign, "foreign": foreign}[choose]
  with pytest.raises(result_dirs.UnsafeResultDir):
    result_dirs.check_result_dir(str(path), "tools.evaluate",
                                 {"the model": str(run / "best.keras"), "its training run": str(run)})
  assert (run / "best.keras").read_text() == "model" and (foreign / "thesis.tex").exists()


def test_a_previous_result_of_the_same_tool_is_replaced_whole(tmp_path):
  out = tmp_path / "eval"
  for text in ("first", "second"):
    path = result_dirs.check_result_dir(str(out), "tools.evaluate", {})
    with result_dirs.result_dir(path, "tools.evaluate") as scratch:
      with open(os.path.join(scratch, "metrics.json"), "w") as f:
        f.write(text)
  assert (out / "metrics.json").read_text() == "second"
  assert sorted(os.listdir(tmp_path)) == ["eval"]
  with pytest.raises(result_dirs.UnsafeResultDir, match="not a result of tools.predict"):
    result_dirs.check_result_dir(str(out), "tools.predict", {})


def test_a_failure_keeps_the_previous_result(tmp_path):
  out = tmp_path / "eval"
  with result_dirs.result_dir(str(out), "tools.evaluate") as scratch:
    open(os.path.join(scratch, "metrics.json"), "w").close()
  with pytest.raises(RuntimeError):
    with result_dirs.result_dir(str(out), "tools.evaluate") as scratch:
      raise RuntimeError("inference failed")
  assert (out / "metrics.json").exists() and sorted(os.listdir(tmp_path)) == ["eval"]


def test_a_second_writer_of_the_same_result_waits_for_the_first(tmp_path):
  import threading
  out, order = tmp_path / "eval", []

  def second():
    with result_dirs.result_dir(str(out), "tools.evaluate") as scratch:
      order.append("second")
      open(os.path.join(scratch, "second.json"), "w").close()

  with result_dirs.result_dir(str(out), "tools.evaluate") as scratch:
    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive()  # waiting: it would have taken the first's scratch folder away
    open(os.path.join(scratch, "first.json"), "w").close()
    order.append("first")
  thread.join(timeout=10)
  assert order == ["first", "second"] and (out / "second.json").exists()  # each complete, the last wins
  assert sorted(os.listdir(tmp_path)) == ["eval"]  # and no lock file is left
