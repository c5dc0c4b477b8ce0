"""What each training-recipe feature costs per train step, against the plain step, measured in one run.

  python -m tools.bench_recipe                          # EfficientNetB3, 128 px, batch 16
  python -m tools.bench_recipe --image_size=300 --batch_size=32 --steps=50     # on a GPU

Each variant (plain, EMA, label smoothing, warm-up, clipping, accumulation, mixup, cutmix, all) is the
shipped classifier compiled as the trainer compiles it on this device, trained on one fixed batch, so the
data pipeline is out of the picture. The variants take turns for --rounds rounds of --steps steps; the
cost is the median over rounds of the step time divided by the plain step's in the same round.
Writes JSON and prints a table.
"""

import os
import time

from absl import app, flags

from cnmc.cli.main import run
from cnmc.storage import atomic

_BACKBONE = flags.DEFINE_string("backbone", "effnetb3", "The backbone.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 128, "Input size.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Batch size.", lower_bound=1)
_STEPS = flags.DEFINE_integer("steps", 10, "Train steps per variant and round.", lower_bound=1)
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Rounds; the median over them is reported.", lower_bound=1)
_OUTPUT = flags.DEFINE_string("output", "bench_recipe.json", "Where to write the JSON results.")
_VARIANTS = flags.DEFINE_list("variants", None, "Only these variants (plain, ema, label_smoothing, warmup, clipping, "
                              "accumulation, mixup, cutmix, all); plain, the reference, is always measured. "
                              "Default: every one.")


def main():
  from cnmc.benchmarks.recipe_costs import VARIANTS, measure
  chosen = _VARIANTS.value or list(VARIANTS)
  unknown = [name for name in chosen if name not in VARIANTS]
  if unknown:
    raise app.UsageError(f"--variants: {', '.join(unknown)} is not a variant; choose from "
                                f"{', '.join(VARIANTS)}.")
  results = measure(_BACKBONE.value, _IMAGE_SIZE.value, _BATCH_SIZE.value, _STEPS.value, _ROUNDS.value,
                    variants=["plain", *(name for name in chosen if name != "plain")],
                    progress=lambda text: print(text, flush=True))
  print(f"{'variant':18}{'ms/step':>10}{'vs plain':>10}")
  for name, row in results["variants"].items():
    print(f"{name:18}{row['ms_per_step']:10.1f}{row['vs_plain']:10.3f}")
  results["settings"].update(cpu_count=os.cpu_count(), date=time.strftime("%Y-%m-%d"))
  atomic.write_json(_OUTPUT.value, results)
  print(f"Results in {_OUTPUT.value}")


if __name__ == "__main__":
  run(main)
