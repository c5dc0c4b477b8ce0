"""Why the project splits by subject: cross-validation by image against by subject, same model and budget.

  python -m tools.leakage_demo --weights=none --image_size=64 --epochs=10 --steps_per_epoch=20

  by subject  validate on fold_k, train on the other two folds: no subject on both sides.
  by image    what the public notebooks did: the same images cut at random into thirds (TFDS shuffled
              each fold's records when it wrote them, so a slice is a random sample of images), so
              every subject has images on both sides: validate on the k-th third of every fold,
              train on the other two thirds.
Both rotate k over three runs of the same trainer flags (passed through, as in cross_validate), with
about the same number of training and validation images. The gap between the two means is what a
random image-level split adds to the scores. Writes <demo_dir>/leakage.json and leakage.md.
"""

import dataclasses
import os

from absl import flags

from cnmc_tfds.vocabulary import FOLD_SPLITS
from cnmc.cli import fold_runs
from cnmc.cli.main import require_writable, run
from cnmc.run_folder import layout
from cnmc.storage import atomic, paths
from trainer import flags as trainer_flags
from trainer.config import default_folder

flags.adopt_module_key_flags(trainer_flags)  # --help lists the trainer flags it passes through

DEMO_DIR = flags.DEFINE_string("demo_dir", None, "Where the six runs and the summary go; default "
                               "runs/leakage-<dataset>-<backbone>.")

THIRDS = ("[:33%]", "[33%:67%]", "[67%:]")


def split_plans(folds=FOLD_SPLITS) -> dict[str, list[tuple[str, tuple[str, ...], str]]]:
  """{"by_subject": [...], "by_image": [...]}, each a list of (run name, training splits, validation split)."""
  from cnmc.evaluation.cross_validation import fold_plan
  by_subject = [(f"by_subject_{held_out}", training, held_out)
                for held_out, training in fold_plan(folds)]
  by_image = [(f"by_image_third_{k}", tuple(f"{f}{THIRDS[j]}" for f in folds for j in range(3) if j != k),
               "+".join(f"{f}{THIRDS[k]}" for f in folds)) for k in range(3)]
  return {"by_subject": by_subject, "by_image": by_image}


def shared_subjects(builder, training: tuple[str, ...], held_out: str) -> int:
  from pipeline.input_pipeline import subjects_and_files
  return len(subjects_and_files(builder, "+".join(training))[0] & subjects_and_files(builder, held_out)[0])


def main():
  from cnmc.evaluation import cross_validation, inference, sources  # import TensorFlow: after flag parsing
  fold_runs.refuse_given()
  config = trainer_flags.config_from_flags()
  arguments = fold_runs.trainer_arguments(config)
  demo_dir = paths.expand_path(DEMO_DIR.value) or default_folder(config, "leakage")
  require_writable("--demo_dir", demo_dir)
  results, sections = {}, []
  for kind, plan in split_plans().items():
    runs = {}
    for name, training, held_out in plan:
      run_dir = os.path.join(demo_dir, name)
      fold_runs.train_run(dataclasses.replace(config, train_splits=training, val_split=held_out, model_dir=run_dir))
      runs[name] = cross_validation.score_run(run_dir, held_out, config.batch_size)
      builder = sources.dataset_builder(inference.run_record(os.path.join(run_dir, layout.FINAL_MODEL)), None, None)
      runs[name].update(trained_on=list(training), held_out=held_out,
                        shared_subjects=shared_subjects(builder, training, held_out))
    summary = cross_validation.summarise(list(runs.values()))
    results[kind] = {"runs": runs, "mean_sd": summary}
    sections.append(f"Split {kind.replace('_', ' ')} (subjects on both sides: "
                    f"{', '.join(str(r['shared_subjects']) for r in runs.values())})\n\n"
                    f"{cross_validation.table(runs, summary, first_column='run')}")
  gap = {name: results["by_image"]["mean_sd"][name]["mean"] - results["by_subject"]["mean_sd"][name]["mean"]
         for name in ("weighted_f1", "auc", "accuracy") if results["by_subject"]["mean_sd"][name]["mean"] is not None
         and results["by_image"]["mean_sd"][name]["mean"] is not None}
  results.update(gap_by_image_minus_by_subject=gap, trainer_flags=arguments)
  text = "\n\n".join(sections) + "\n\nBy image minus by subject: " + ", ".join(
      f"{name} {value:+.4f}" for name, value in gap.items())
  atomic.write_json(os.path.join(demo_dir, "leakage.json"), results)
  atomic.write_text(os.path.join(demo_dir, "leakage.md"),
                    f"Leakage demonstration; trainer flags: {' '.join(arguments) or '(defaults)'}\n\n{text}\n")
  print(f"\n{text}\n\nResults in {demo_dir}/leakage.json and .md")


if __name__ == "__main__":
  run(main)
