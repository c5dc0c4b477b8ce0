"""Training images/s of the full system against the notebook approach, measured in one run.

  python -m tools.bench_train                         # EfficientNetB3, 128 px, batch 16
  python -m tools.bench_train --backbone=inception_resnet_v2 --image_size=299 --batch_size=32

Both train the same backbone, from the same random init, at the same size and batch, in epochs of
--steps steps; the second epoch is timed (the first pays for tracing):
  notebook  Keras 2's ImageDataGenerator.flow_from_directory on the BMP files (rotation 20, shifts,
            shear, zoom, flip on the CPU) feeding model.fit (needs the `notebook` extra)
  system    `python -m trainer` as shipped: TFRecords -> cached uint8 -> on-device augmentation;
            a third epoch is profiled (not timed: the profiler slows steps), for the input-wait share.
Writes JSON and prints a table.
"""

import os
import time

from absl import flags

from cnmc.cli.main import run

from cnmc.benchmarks.training import measure_notebook, measure_system, report
from cnmc.cli import bench_flags
from cnmc.storage import atomic

flags.adopt_module_key_flags(bench_flags)

_BACKBONE = flags.DEFINE_string("backbone", "effnetb3", "Backbone for both.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 128, "Input size for both.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Batch size for both.", lower_bound=1)
_STEPS = flags.DEFINE_integer("steps", 20, "Training steps per epoch; the second epoch is timed.", lower_bound=1)
_OUTPUT = flags.DEFINE_string("output", "bench_train.json", "Where to write the JSON results.")


def main():
  size, batch, steps = _IMAGE_SIZE.value, _BATCH_SIZE.value, _STEPS.value
  builder, folder = bench_flags.benchmark_data()
  print("[1/2] training with ImageDataGenerator (notebook) ...", flush=True)
  notebook = measure_notebook(folder, _BACKBONE.value, size, batch, steps)
  print("[2/2] training with the full system ...", flush=True)
  system = measure_system(bench_flags.DATA_DIR.value, builder, _BACKBONE.value, size, batch, steps)
  rate = system["images_per_second"]
  print(f"{'what':40}{'img/s':>10}")
  print(f"{'notebook: ImageDataGenerator + fit':40}{notebook if notebook is not None else float('nan'):10.1f}")
  print(f"{'full system (python -m trainer)':40}{rate:10.1f}")
  if notebook:
    print(f"full system / notebook: {rate / notebook:.2f}x")
  profile = system["profile"]
  print(f"profile of the third epoch: step {profile['step_time_ms']:.0f} ms, waiting for input "
        f"{100 * profile['input_wait_share']:.1f}% ({profile['conclusion']})")
  atomic.write_json(_OUTPUT.value, report(notebook, system, {
      "backbone": _BACKBONE.value, "image_size": size, "batch_size": batch, "steps": steps,
      "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}))


if __name__ == "__main__":
  run(main)
