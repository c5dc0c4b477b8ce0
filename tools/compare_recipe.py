"""The training recipe's features against the plain run, one at a time and all together, 3 seeds, mean ± sd.

  python -m tools.compare_recipe                                   # CPU-sized, on cnmc/synthetic
  python -m tools.compare_recipe --dataset=cnmc/real --backbone=effnetb3 --weights=imagenet --epochs=10

For each seed, one run per recipe trains on fold_0 + fold_1 (monitored on fold_2) with the same flags and
budget: plain; + EMA; + label smoothing; + warm-up; + clipping; + accumulation (half the batch, twice the
steps: the same effective batch); + mixup; + cutmix; all together. Each run's final model is scored on
--score_split (validation: other subjects) per cell and per subject, with the time its training steps took.
Trainer flags pass through; without them the runs are small_cnn at 64 px, under a minute each on a CPU.
Writes <compare_dir>/recipe.json and recipe.md; a rerun skips finished runs.
"""

import os

from absl import flags

from cnmc.cli import comparison_flags, fold_runs
from cnmc.cli.comparison_flags import SCORE_SPLIT, TRAIN, TUNE
from cnmc.cli.main import fail, require_writable, run
from cnmc.run_folder import layout
from cnmc.storage import atomic
from trainer.config import flag_text, names_where

flags.adopt_module_key_flags(comparison_flags)  # --help lists its flags and the trainer's
__doc__ += comparison_flags.CPU_SIZED_HELP  # --help says what the runs use

RECIPES = flags.DEFINE_list("recipes", None, "Only these rows (plain, ema, label_smoothing, warmup, clipping, "
                            "accumulation, mixup, cutmix, all); default every one.")


def main():
  from cnmc.evaluation import inference, recipes, sources  # import TensorFlow: after flag parsing
  from cnmc.statistics import intervals
  from trainer.recipe import compared_recipes
  config = comparison_flags.base_config(set_here=names_where("recipe_feature"))
  arguments = fold_runs.trainer_arguments(config)
  compare_dir = comparison_flags.compare_dir("recipe", config)
  require_writable("--compare_dir", compare_dir)
  seeds, variants = comparison_flags.seeds(), compared_recipes(config.batch_size, config.steps_per_epoch)
  if RECIPES.value:
    unknown = sorted(set(RECIPES.value) - set(variants))
    if unknown:
      fail(f"--recipes: {', '.join(unknown)} is not a recipe; choose from {', '.join(variants)}.")
    variants = {name: variants[name] for name in variants if name in RECIPES.value}
  per_seed = []
  for seed in seeds:
    run_dirs = {}
    for name, (_, changes) in variants.items():
      run_dirs[name] = os.path.join(compare_dir, f"seed{seed}-{name}")
      fold_runs.train_run(comparison_flags.run_config(config, run_dirs[name], seed=seed, **changes))
    first = os.path.join(next(iter(run_dirs.values())), layout.FINAL_MODEL)
    builder = sources.dataset_builder(inference.run_record(first), None, None)
    print(f"\n=== seed {seed}: scoring every recipe's final model on {SCORE_SPLIT.value} ===", flush=True)
    scored = {name: recipes.score_run(path, builder, SCORE_SPLIT.value, config.batch_size)
              for name, path in run_dirs.items()}
    paired = (recipes.against_plain({name: predicted for name, (_, predicted) in scored.items()}, seed)
              if "plain" in scored else {})
    per_seed.append({name: {**row, "vs_plain": paired.get(name)} for name, (row, _) in scored.items()})
  summary = recipes.summarise(per_seed, list(variants))
  text = recipes.table(summary, {name: label for name, (label, _) in variants.items()},
                       intervals.apart_counts(per_seed, list(variants), "vs_plain") if "plain" in variants else None)
  header = (f"Training recipe on {config.dataset}, trained on {' + '.join(TRAIN)}, scored on {SCORE_SPLIT.value}, "
            f"seeds {', '.join(map(str, seeds))} (mean ± sd); trainer flags: {' '.join(arguments)}")
  atomic.write_json(os.path.join(compare_dir, "recipe.json"), {
      "summary": summary, "per_seed": dict(zip(map(str, seeds), per_seed, strict=True)),
      "recipes": {name: [f"--{k}={flag_text(k, v)}" for k, v in changes.items()]
                  for name, (_, changes) in variants.items()}, "trainer_flags": arguments,
      "trained_on": list(TRAIN), "monitored_on": TUNE, "scored_on": SCORE_SPLIT.value})
  atomic.write_text(os.path.join(compare_dir, "recipe.md"), f"{header}\n\n{text}\n")
  print(f"\n{text}\n\nResults in {compare_dir}/recipe.json and .md")


if __name__ == "__main__":
  run(main)
