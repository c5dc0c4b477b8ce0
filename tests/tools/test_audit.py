"""tools.audit: on a cross-validation of a synthetic set with planted faults it finds the planted copies as
leaks and scores itself against the plants; a folder that is not a finished cross-validation is one clear error."""

import csv
import json

import pytest

from cnmc.run_folder import layout, record
from tests.support import in_process
from tests.support.pictures import assert_picture
from cnmc.evaluation import cross_validation
from tests.trainer.helpers import tiny_config
from trainer.train import run


def build_planted(data_dir):
  from cnmc_tfds.cnmc import cnmc_dataset_builder
  from tests.cnmc_tfds.helpers import TINY, build
  return build(data_dir, config=cnmc_dataset_builder.CnmcConfig(name="synthetic_tiny_planted", synthetic=True,
                                                                plant_share=0.1, **TINY))


def rows(path) -> list[dict]:
  with open(path) as f:
    return list(csv.DictReader(f))


@pytest.mark.slow
def test_the_audit_finds_the_planted_copies_as_leaks_and_scores_itself_against_the_plants(tmp_path):
  builder = build_planted(tmp_path / "data")
  planted = builder.info.metadata["planted"]
  assert len(planted["flipped"]) >= 2 and len(planted["duplicates"]) >= 2 and len(planted["garbage"]) >= 2
  cv_dir = tmp_path / "cv"
  for held_out, training in cross_validation.fold_plan():  # as tools.cross_validate trains them, in this process
    run(tiny_config(cv_dir / held_out, train_splits=training, val_split=held_out, epochs=2, steps_per_epoch=3,
                    dataset=str(builder.data_dir)), builder=builder)
  result = in_process.module("tools.audit", f"--cv_dir={cv_dir}")
  assert result.returncode == 0, result.stderr[-3000:]
  audit = cv_dir / "audit"
  duplicates = rows(audit / "near_duplicates.csv")
  found = {frozenset((row["file_name"], row["partner_file_name"])) for row in duplicates}
  assert found == {frozenset(pair) for pair in planted["duplicates"]}  # every copy, and no clean cell
  assert all(row["leak"] == "True" and row["identical_pixels"] == "True" for row in duplicates)
  assert "LEAK" in result.stdout and "LEAK" in (audit / "summary.md").read_text()
  facts = json.loads((audit / "summary.json").read_text())
  assert facts["cells"] == sum(builder.info.splits[s].num_examples for s in ("fold_0", "fold_1", "fold_2",
                                                                              "validation"))
  assert facts["planted"]["near_duplicates"] == {"found": len(found), "planted": len(found), "hits": len(found),
                                                 "precision": 1.0, "recall": 1.0, "precision_at_planted": 1.0}
  header = (audit / "label_issues.csv").read_text().splitlines()[0]
  assert header == "file_name,subject_id,split,label,p_all,label_score"
  # Two epochs of three steps do not learn: nothing rests on these models, the audit says so first and withholds
  # their label issues and outliers, and the copies (identical pixels) are still found, as asserted above.
  evidence = facts["evidence"]
  assert not evidence["models_separate_classes"] and evidence["out_of_fold_auc"]["low"] <= 0.5
  assert evidence["out_of_fold_auc"]["unit"] == "subject" and evidence["withheld"]["label_issues"] > 0
  assert rows(audit / "label_issues.csv") == rows(audit / "outliers.csv") == [] and facts["counts"]["outliers"] == 0
  assert result.stdout.index("cannot rest on these fold models") < result.stdout.index("| finding |")
  pair = assert_picture(audit / "near_duplicates.png", audit / "logs", "near_duplicates")
  assert pair.shape[1] > pair.shape[0]  # each copy beside its partner, four pairs a row
  assert (audit / ".cnmc-result.json").exists()


@pytest.mark.slow
def test_the_audit_runs_on_a_download_in_the_real_layout(tmp_path):
  from tests.cnmc_tfds.helpers import DUMMY_DATA, build
  builder = build(tmp_path / "data", manual_dir=DUMMY_DATA / "tcia")  # 8 training cells, 3 labelled validation
  cv_dir = tmp_path / "cv"
  for held_out, training in cross_validation.fold_plan():
    run(tiny_config(cv_dir / held_out, train_splits=training, val_split=held_out, epochs=1, steps_per_epoch=1,
                    batch_size=2, validation_steps=None, dataset=str(builder.data_dir)), builder=builder)
  result = in_process.module("tools.audit", f"--cv_dir={cv_dir}")
  assert result.returncode == 0, result.stderr[-3000:]
  facts = json.loads((cv_dir / "audit" / "summary.json").read_text())
  assert facts["cells"] == 11 and facts["splits"] == ["fold_0", "fold_1", "fold_2", "validation"]
  assert facts["leaking_copies"] == facts["leaking_lookalikes"] == 0  # each dummy cell has its own colour
  assert "LEAK" not in result.stdout
  for kind in ("label_issues", "near_duplicates", "outliers"):
    assert (cv_dir / "audit" / f"{kind}.csv").read_text().startswith("file_name,subject_id,split,label,p_all,")


def write_fold_run(folder, held_out: str, dataset_folder: str) -> None:
  folds = ["fold_0", "fold_1", "fold_2"]
  folder.mkdir(parents=True)
  record.write_record(str(folder), record.RunRecord(
      flags={"train_splits": [f for f in folds if f != held_out], "val_split": held_out},
      dataset={"name": "cnmc", "config": "synthetic", "version": "1.0.0", "data_dir": dataset_folder}))
  record.write_results(str(folder), {"best_epoch": 1})
  (folder / layout.FINAL_MODEL).write_bytes(b"")


def test_a_folder_that_is_not_a_finished_cross_validation_is_one_clear_error(tmp_path):
  result = in_process.module("tools.audit", f"--cv_dir={tmp_path}")
  assert result.returncode == 1 and "is not a finished cross-validation" in result.stderr
  assert "tools.cross_validate" in result.stderr and "Traceback" not in result.stderr
  for fold in ("fold_0", "fold_1"):
    write_fold_run(tmp_path / fold, fold, "/data/a")
  result = in_process.module("tools.audit", f"--cv_dir={tmp_path}")
  assert result.returncode == 1 and "found fold_0, fold_1" in result.stderr
  write_fold_run(tmp_path / "fold_2", "fold_2", "/data/b")
  result = in_process.module("tools.audit", f"--cv_dir={tmp_path}")
  assert result.returncode == 1 and "read different datasets" in result.stderr
  assert not (tmp_path / "audit").exists()
