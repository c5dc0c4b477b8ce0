"""Subject-disjoint 3-fold cross-validation: train on two folds, score on the third, for each fold.

  python -m tools.cross_validate --backbone=effnetb3 --dataset=cnmc/real --epochs=10
  python -m tools.cross_validate --quick --weights=none          # a CPU smoke run on cnmc/synthetic

Every trainer flag passes through (--backbone, --epochs, --image_size, ...) except --train_splits,
--val_split and --model_dir, which this tool sets. Each fold trains in its own process in
<cv_dir>/<fold>; a rerun skips finished folds and resumes an interrupted one. Each fold's final
model (not the best epoch: that choice would peek at the fold it is scored on) is scored on its
held-out fold. Writes <cv_dir>/cross_validation.json and cross_validation.md (per fold, mean ± sd).
"""

import dataclasses
import os

from absl import flags

from cnmc_tfds.vocabulary import FOLD_SPLITS
from cnmc.cli import fold_runs
from cnmc.cli.main import require_writable, run
from cnmc.storage import atomic, paths
from trainer import flags as trainer_flags
from trainer.config import default_folder

flags.adopt_module_key_flags(trainer_flags)  # --help lists the trainer flags it passes through

CV_DIR = flags.DEFINE_string("cv_dir", None,
                             "Where the folds' runs and the summary go; default runs/cv-<dataset>-<backbone>.")
FOLDS = flags.DEFINE_list("folds", list(FOLD_SPLITS), "The subject-disjoint folds to rotate.")


def main():
  from cnmc.evaluation import cross_validation  # imports TensorFlow: after flag parsing
  fold_runs.refuse_given()
  config = trainer_flags.config_from_flags()  # checks the flags once, before any fold starts
  arguments = fold_runs.trainer_arguments(config)
  plan = cross_validation.fold_plan(FOLDS.value)
  cv_dir = paths.expand_path(CV_DIR.value) or default_folder(config, "cv")
  require_writable("--cv_dir", cv_dir)
  per_fold = {}
  for held_out, training in plan:
    fold_dir = os.path.join(cv_dir, held_out)
    fold_runs.train_run(dataclasses.replace(config, train_splits=training, val_split=held_out, model_dir=fold_dir))
    per_fold[held_out] = cross_validation.score_run(fold_dir, held_out, config.batch_size)
  summary = cross_validation.summarise(list(per_fold.values()))
  results = {"folds": {held_out: {"trained_on": list(training), **per_fold[held_out]} for held_out, training in plan},
             "mean_sd": summary, "trainer_flags": arguments}
  text = cross_validation.table(per_fold, summary, first_column="validation fold")
  atomic.write_json(os.path.join(cv_dir, "cross_validation.json"), results)
  atomic.write_text(os.path.join(cv_dir, "cross_validation.md"),
                    "Cross-validation, final models, threshold 0.5; trainer flags: "
                    f"{' '.join(arguments) or '(defaults)'}\n\n{text}\n")
  print(f"\n{text}\n\nResults in {cv_dir}/cross_validation.json and .md")


if __name__ == "__main__":
  run(main)
