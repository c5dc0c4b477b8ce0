"""Atomic writes: the target is old-and-complete or new-and-complete, whatever happens in between."""

import json
import os

import pytest

from cnmc.storage import atomic


def test_write_json_replaces_the_file_whole(tmp_path):
  target = tmp_path / "results.json"
  atomic.write_json(str(target), {"a": 1})
  atomic.write_json(str(target), {"a": 2})
  assert json.loads(target.read_text()) == {"a": 2}
  assert os.listdir(tmp_path) == ["results.json"]  # no temporary file left


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
  target = tmp_path / "model.keras"
  target.write_text("old")
  with pytest.raises(RuntimeError):
    with atomic.atomic_path(str(target), suffix=".keras") as temporary:
      assert temporary.endswith(".partial.keras") and os.path.dirname(temporary) == str(tmp_path)
      with open(temporary, "w") as f:
        f.write("half")
      raise RuntimeError("disk full")
  assert target.read_text() == "old" and os.listdir(tmp_path) == ["model.keras"]


def test_written_files_get_the_usual_permissions(tmp_path):
  mask = os.umask(0o022)
  try:
    atomic.write_text(str(tmp_path / "a.txt"), "x")
  finally:
    os.umask(mask)
  assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~atomic._umask()


def test_replace_dir_and_recovery_after_a_kill_between_its_renames(tmp_path):
  result, new = tmp_path / "eval", tmp_path / "eval.partial"
  result.mkdir(), new.mkdir()
  (result / "metrics.json").write_text("old")
  (new / "metrics.json").write_text("new")
  atomic.replace_dir(str(new), str(result))
  assert (result / "metrics.json").read_text() == "new" and sorted(os.listdir(tmp_path)) == ["eval"]
  # A kill after the old folder was moved aside and before the new one arrived:
  os.replace(result, tmp_path / "eval.old")
  atomic.recover_dir(str(result))
  assert (result / "metrics.json").read_text() == "new" and sorted(os.listdir(tmp_path)) == ["eval"]


def test_remove_strays_takes_only_marked_temporary_files(tmp_path):
  (tmp_path / ".state.json.x1.partial").write_text("")
  (tmp_path / ".best.keras.x2.partial.keras").write_text("")
  (tmp_path / "notes.partial.txt").write_text("a user's file")  # not hidden: not ours
  (tmp_path / ".bashrc").write_text("")
  atomic.remove_strays(str(tmp_path))
  assert sorted(os.listdir(tmp_path)) == [".bashrc", "notes.partial.txt"]
