"""What the trainer's own work costs: `python -m trainer` against a bare `model.fit` of the same model.

  python -m tools.bench_overhead                      # EfficientNetB3, 128 px, batch 16, 2 rounds

Both train the same classifier and train step (augmentation, metrics, optimizer, this device's precision and XLA)
on the same batches, with the same validation, for 3 epochs of --steps steps; they take turns, --rounds times
(a busy machine slows the neighbours of a round alike, so each round's ratio is taken, then their median).
Reported: the steady-state step time of epochs 2-3 (the trainer's per-step callbacks: progress, divergence check,
throughput) and the wall time of those epochs (its per-epoch work too: commits, best.keras, pictures, summaries).
Writes JSON and prints a table.
"""

import os
import time

from absl import flags

from cnmc.benchmarks.training import measure_overhead
from cnmc.cli import bench_flags
from cnmc.cli.main import run
from cnmc.storage import atomic

flags.adopt_module_key_flags(bench_flags)

_BACKBONE = flags.DEFINE_string("backbone", "effnetb3", "Backbone for both.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 128, "Input size for both.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Batch size for both.", lower_bound=1)
_STEPS = flags.DEFINE_integer("steps", 10, "Training steps per epoch (at least 3: the first is not timed).",
                              lower_bound=3)
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Turns of trainer and bare fit.", lower_bound=1)
_OUTPUT = flags.DEFINE_string("output", "bench_overhead.json", "Where to write the JSON results.")


def main():
  builder, _ = bench_flags.benchmark_data()
  found = measure_overhead(bench_flags.DATA_DIR.value, builder, _BACKBONE.value, _IMAGE_SIZE.value,
                           _BATCH_SIZE.value, _STEPS.value, _ROUNDS.value, progress=lambda m: print(m, flush=True))
  print(f"{'':28}{'ms/step':>10}{'s/epoch':>10}")
  for name, label in (("bare", "bare model.fit"), ("trainer", "python -m trainer")):
    print(f"{label:28}{found[name]['ms_per_step']:10.1f}{found[name]['seconds_per_epoch']:10.2f}")
  print(f"trainer / bare (median of the rounds' ratios): step {found['step_ratio']:.3f}, "
        f"epoch {found['epoch_ratio']:.3f}")
  atomic.write_json(_OUTPUT.value, {**found, "settings": {**found["settings"], "cpu_count": os.cpu_count(),
                                                          "date": time.strftime("%Y-%m-%d")}})


if __name__ == "__main__":
  run(main)
