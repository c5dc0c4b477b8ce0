"""The leaderboard's tricks against the plain model, 3 seeds, mean ± sd, nothing tuned on the scored split.

  python -m tools.compare_tricks                                   # CPU-sized, on cnmc/synthetic
  python -m tools.compare_tricks --dataset=cnmc/real --backbone=effnetb3 --weights=imagenet --epochs=10

For each seed, four models train on fold_0 + fold_1 with the same flags and budget: rgb input (seed s),
rgb input again (seed s + 100, the ensemble's second member), optical-density input and stain-normalised
input (seed s). The neighbourhood correction's k and weight are chosen on fold_2 (a training fold the
models never saw); every method is then scored on --score_split (validation: other subjects), from each
run's final model. Rows: single model; + TTA; the ensemble of the two rgb seeds; + TTA; + neighbourhood
correction; each input transform. Trainer flags pass through; without them the runs are small_cnn at
64 px for a few minutes each on a CPU. Writes <compare_dir>/tricks.json and tricks.md; a rerun skips
finished runs.
"""

import os

from absl import flags

from cnmc.cli import comparison_flags, fold_runs
from cnmc.cli.comparison_flags import SCORE_SPLIT, TRAIN, TUNE
from cnmc.cli.main import require_writable, run
from cnmc.run_folder import layout
from cnmc.storage import atomic
from trainer.config import names_where

flags.adopt_module_key_flags(comparison_flags)  # --help lists its flags and the trainer's

__doc__ += comparison_flags.CPU_SIZED_HELP  # --help says what the runs use


def variants(seed: int) -> dict[str, dict]:
  """{run name: the settings it changes} for one seed."""
  return {"rgb": dict(seed=seed, input_transform="rgb"),
          "rgb_second_seed": dict(seed=seed + 100, input_transform="rgb"),
          "optical_density": dict(seed=seed, input_transform="optical_density"),
          "stain_normalised": dict(seed=seed, input_transform="stain_normalised")}


def main():
  from cnmc.evaluation import ensembles, inference, sources, tricks  # import TensorFlow: after flag parsing
  varied = tuple(dict.fromkeys(name for changes in variants(0).values() for name in changes))
  config = comparison_flags.base_config(set_here=tuple(name for name in varied if name not in names_where("per_seed")))
  arguments = fold_runs.trainer_arguments(config)
  compare_dir = comparison_flags.compare_dir("tricks", config)
  require_writable("--compare_dir", compare_dir)
  seeds = comparison_flags.seeds()
  per_seed, chosen = [], {}
  for seed in seeds:
    models = {}
    for variant, changes in variants(seed).items():
      run_dir = os.path.join(compare_dir, f"seed{seed}-{variant}")
      fold_runs.train_run(comparison_flags.run_config(config, run_dir, **changes))
      models[variant] = os.path.join(run_dir, layout.FINAL_MODEL)
    builder = sources.dataset_builder(inference.run_record(models["rgb"]), None, None)
    batch = config.batch_size
    print(f"\n=== seed {seed}: choosing the neighbourhood correction on {TUNE}, scoring on {SCORE_SPLIT.value} ===",
          flush=True)
    tune = ensembles.align([tricks.predict_split(models[v], builder, TUNE, batch, tta=True)
                            for v in ("rgb", "rgb_second_seed")])
    chosen[seed] = tricks.choose_neighbours(tune)
    scored = ensembles.align([tricks.predict_split(models[v], builder, SCORE_SPLIT.value, batch, tta=True)
                              for v in ("rgb", "rgb_second_seed")])
    per_seed.append(tricks.score_methods(
        scored, tricks.predict_split(models["optical_density"], builder, SCORE_SPLIT.value, batch, tta=False),
        tricks.predict_split(models["stain_normalised"], builder, SCORE_SPLIT.value, batch, tta=False),
        chosen[seed]["k"], chosen[seed]["weight"]))
  summary = tricks.summarise(per_seed)
  text = tricks.table(summary, per_seed)
  choices = ", ".join(f"seed {s}: k={c['k']}, weight={c['weight']}" for s, c in chosen.items())
  atomic.write_json(os.path.join(compare_dir, "tricks.json"), {
      "summary": summary, "per_seed": dict(zip(map(str, seeds), per_seed, strict=True)),
      "neighbours_chosen_on_" + TUNE: {str(s): c for s, c in chosen.items()}, "trainer_flags": arguments,
      "trained_on": list(TRAIN), "scored_on": SCORE_SPLIT.value})
  atomic.write_text(os.path.join(compare_dir, "tricks.md"),
                    f"Tricks on {config.dataset}, trained on {' + '.join(TRAIN)}, scored on {SCORE_SPLIT.value}, "
                    f"seeds {', '.join(map(str, seeds))} (mean ± sd); trainer flags: {' '.join(arguments)}\n\n"
                    f"{text}\n\nNeighbourhood correction chosen on {TUNE}: {choices}\n")
  print(f"\n{text}\n\nNeighbourhood correction chosen on {TUNE}: {choices}\n"
        f"Results in {compare_dir}/tricks.json and .md")


if __name__ == "__main__":
  run(main)
