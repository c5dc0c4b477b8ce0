"""The benchmark tools' shared flags: where the synthetic benchmark data is built, and how big."""

import os
import tempfile

from absl import flags

from cnmc.console.bounded_flags import define_positive_float

IMAGES_SCALE = define_positive_float("images_scale", 0.1, "Synthetic set size as a fraction of the real counts.")
DATA_DIR = flags.DEFINE_string("data_dir", os.path.join(tempfile.gettempdir(), "cnmc_bench"),
                               "Where the synthetic download and TFRecords are built (reused).")


def benchmark_data():
  """(builder, folder of all/ and hem/ BMPs) of the synthetic set these flags name, built on first use."""
  from cnmc.benchmarks.data import build_benchmark_data
  print(f"Building the benchmark data in {DATA_DIR.value} (once; reused afterwards) ...", flush=True)
  return build_benchmark_data(DATA_DIR.value, IMAGES_SCALE.value)
