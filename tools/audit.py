"""Audit the data before trusting a score: likely label errors, near-duplicate cells (a leak when the copies sit
in different subjects or splits) and outliers, from a finished cross-validation.

  python -m tools.cross_validate --dataset=cnmc/real --backbone=effnetb3 --epochs=10   # first, if not done
  python -m tools.audit --cv_dir=runs/cv-cnmc-real-effnetb3

Every labelled cell is scored by a fold model that never trained on it and embedded by all of them;
cleanlab's Datalab ranks the findings (pip install 'cnmc[audit]'). Writes <output_dir>/label_issues.csv,
near_duplicates.csv, outliers.csv, summary.md, summary.json, a picture of the worst cases of each kind
(PNG and TensorBoard, logs/). To retrain without suspect cells: python -m trainer --exclude=<a CSV or a
list of file names>; scoring sets are never filtered.
"""

import csv
import io
import os

import numpy as np
from absl import flags

from cnmc.cli.main import run
from cnmc.storage import atomic, paths, result_dirs

CV_DIR = flags.DEFINE_string("cv_dir", None, "The cross-validation folder to audit (tools.cross_validate's).")
OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where the findings go; default <cv_dir>/audit.")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Images per prediction batch.", lower_bound=1)
COUNT = flags.DEFINE_integer("count", 16, "Worst cases shown per kind of finding.", lower_bound=1)
flags.mark_flag_as_required("cv_dir")


def _csv(rows: list[dict], columns: list[str]) -> str:
  text = io.StringIO()
  writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  return text.getvalue()


COLUMNS = {
    "label_issues": ["file_name", "subject_id", "split", "label", "p_all", "label_score"],
    "near_duplicates": ["file_name", "subject_id", "split", "label", "p_all", "partner_file_name",
                        "partner_subject_id", "partner_split", "partner_label", "cosine_distance", "identical_pixels",
                        "leak"],
    "outliers": ["file_name", "subject_id", "split", "label", "p_all", "outlier_score"],
}


def _images(builder, names: set[str], splits: set[str], image_size: int, batch_size: int) -> dict[str, np.ndarray]:
  """The named cells' images, read from the splits that hold them."""
  from cnmc.evaluation import sources
  found = {}
  for split in sorted(splits):
    batches, _ = sources.split_batches(builder, split, image_size, batch_size, ("file_name",))
    for batch in batches:
      for image, name in zip(batch["image"].numpy(), batch["file_name"].numpy(), strict=True):
        if name.decode() in names:
          found[name.decode()] = image
  return found


def _pictures(builder, issues: dict, output_dir: str, image_size: int) -> None:
  import tensorflow as tf
  from cnmc.evaluation import audit
  from cnmc.pictures.grids import captioned, image_grid, save_picture
  shown = {kind: rows[:COUNT.value] for kind, rows in issues.items() if rows}
  names = {row[key] for rows in shown.values() for row in rows for key in ("file_name", "partner_file_name")
           if key in row}
  splits = {row[key] for rows in shown.values() for row in rows for key in ("split", "partner_split") if key in row}
  images = _images(builder, names, splits, image_size, BATCH_SIZE.value)
  writer = tf.summary.create_file_writer(os.path.join(output_dir, "logs"))
  for kind, rows in shown.items():
    if kind == "near_duplicates":  # each pair side by side
      tiles = [np.concatenate([images[row["file_name"]], images[row["partner_file_name"]]], axis=1) for row in rows]
      texts = [("LEAK: copy" if row["identical_pixels"] else "look-alike, apart") if row["leak"] else "same subject"
               for row in rows]
    else:
      tiles, texts = [images[row["file_name"]] for row in rows], [audit.caption(row) for row in rows]
    save_picture(image_grid(captioned(np.stack(tiles), texts), columns=4), os.path.join(output_dir, f"{kind}.png"),
                 writer, kind, 0)


def main():
  from cnmc.evaluation import audit, inference, sources
  from cnmc.evaluation.errors import EvaluationError
  cv_dir = paths.expand_path(CV_DIR.value)
  runs, fold_record = audit.fold_runs(cv_dir)
  output_dir = paths.expand_path(OUTPUT_DIR.value) or os.path.join(cv_dir, "audit")
  try:  # refused before any work if it would replace anything but an earlier audit
    output_dir = result_dirs.check_result_dir(output_dir, "tools.audit", {
        f"the fold run {run.held_out}": os.path.dirname(run.model_path) for run in runs})
  except result_dirs.UnsafeResultDir as error:
    raise EvaluationError(str(error)) from None
  builder = sources.dataset_builder(fold_record, None, None)
  cells = audit.gather(runs, builder, BATCH_SIZE.value, progress=lambda text: print(text, flush=True))
  print(f"Looking for label errors, near-duplicates and outliers among {len(cells['label'])} cells ...", flush=True)
  found = audit.find_issues(cells)
  evidence = audit.judge_evidence(cells, found)
  issues, withheld = audit.trusted_findings(found, evidence)  # what the fold models' evidence cannot carry is left out
  facts = {**audit.summary(cells, issues), "evidence": {**evidence, "withheld": withheld}}
  manifest = audit.planted_manifest(builder)
  if manifest is not None:  # a test bed with known faults: how many the audit found
    facts["planted"] = audit.planted_scores(issues, manifest)
  _, image_size = inference.load_classifier(runs[0].model_path)
  with result_dirs.result_dir(output_dir, "tools.audit", {"cv_dir": os.path.abspath(cv_dir)}) as scratch:
    for kind, rows in issues.items():
      atomic.write_text(os.path.join(scratch, f"{kind}.csv"), _csv(rows, COLUMNS[kind]))
    atomic.write_json(os.path.join(scratch, "summary.json"), facts)
    atomic.write_text(os.path.join(scratch, "summary.md"), audit.summary_text(facts))
    _pictures(builder, issues, scratch, image_size)
  print(audit.summary_text(facts, subjects_shown=10) + f"\nFindings in {output_dir}")


if __name__ == "__main__":
  run(main)
