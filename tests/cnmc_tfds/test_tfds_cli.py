"""The documented `tfds build` commands, run as a user runs them."""

import os
import shutil
import subprocess
import sys

import pytest
import tensorflow_datasets as tfds

import cnmc_tfds  # noqa: F401  (registers cnmc for tfds.builder below)
from cnmc_tfds.cnmc import synthetic_tree
from tests.support.subprocesses import environment

TFDS = shutil.which("tfds", path=os.path.dirname(sys.executable)) or shutil.which("tfds")


def run_tfds(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([TFDS, "build", *args], capture_output=True, text=True, env=environment(), timeout=600)


@pytest.mark.slow
def test_tfds_build_synthetic_end_to_end(tmp_path):
  result = run_tfds("cnmc/synthetic", "--imports=cnmc_tfds", f"--data_dir={tmp_path}")
  assert result.returncode == 0, result.stderr[-3000:]
  builder = tfds.builder("cnmc/synthetic", data_dir=str(tmp_path))
  config = builder.builder_config
  plan = synthetic_tree.plan_cells(config.images_scale, config.subjects_scale, config.seed)
  assert sum(s.num_examples for s in builder.info.splits.values()) == len(plan)
  assert set(builder.info.splits) == {"fold_0", "fold_1", "fold_2", "validation", "test"}
  image, label = next(iter(tfds.as_numpy(builder.as_dataset(split="fold_0", as_supervised=True))))
  assert image.shape == (450, 450, 3) and label in (0, 1)


@pytest.mark.slow  # tfds' own command in a process; test_build_errors.py checks the messages in-process
def test_tfds_build_reports_a_missing_download_without_a_traceback(tmp_path):
  manual = tmp_path / "download" / "C-NMC_Leukemia" / "training_data"
  manual.mkdir(parents=True)
  result = run_tfds("cnmc/real", "--imports=cnmc_tfds", f"--data_dir={tmp_path / 'data'}",
                    f"--manual_dir={tmp_path / 'download'}")
  output = result.stdout + result.stderr
  assert result.returncode != 0
  assert "Traceback" not in output
  assert "is incomplete" in output and "fold_0" in output and str(manual) in output


@pytest.mark.slow
def test_tfds_build_takes_a_download_unpacked_on_a_mac_with_labels_saved_by_a_spreadsheet(tmp_path):
  from tests.cnmc_tfds.helpers import DUMMY_DATA
  from tests.cnmc_tfds.test_build_errors import LABELS, as_a_mac_unpacks_it, as_a_spreadsheet_saves_it
  download = tmp_path / "download"
  shutil.copytree(DUMMY_DATA / "kaggle", download)
  skipped = as_a_mac_unpacks_it(download)
  as_a_spreadsheet_saves_it(download / LABELS)
  result = run_tfds("cnmc/real", "--imports=cnmc_tfds", f"--data_dir={tmp_path / 'data'}", f"--manual_dir={download}")
  assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
  assert f"Skipped {skipped} macOS metadata files" in result.stdout + result.stderr
  assert tfds.builder("cnmc/real", data_dir=str(tmp_path / "data")).info.splits["validation"].num_examples == 3
