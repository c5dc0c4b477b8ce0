"""Images/s of this project's input pipeline against the usual ways, measured in one run.

  python -m tools.bench_pipeline                      # 300 px, batch 32, ~1,500 synthetic cells
  python -m tools.bench_pipeline --image_size=64 --images_scale=0.02 --batches=4   # a smoke run

Builds (once) a synthetic C-NMC download, BMP files as users download them plus the TFRecords,
then measures with the same augmentation ranges (rotation 20 deg, shift 0.2, shear 0.2, zoom 0.2,
horizontal flip) and output size:
  1. notebook    Keras 2 ImageDataGenerator.flow_from_directory on the BMPs (needs the `notebook` extra)
  2. keras3      keras.utils.image_dataset_from_directory + Keras augmentation layers in map()
  3. host        this pipeline's uint8 batches, cold (first epoch: decoding) and warm (cached)
  4. end-to-end  this pipeline + CellAugmentation run here on the CPU (XLA-compiled), cold and warm
  5. affine      FusedRandomAffine alone (XLA) vs keras-cv's RandomRotation -> RandomShear ->
                 RandomTranslation -> RandomZoom -> RandomFlip on the same float batch
  6. colour      FusedColourJitter alone (XLA) vs keras-cv's RandomBrightness -> RandomContrast ->
                 RandomSaturation -> RandomHue (XLA) on the same batch
Prints a table with ratios to (1) and (2) and writes JSON.
"""

import os
import platform
import time

from absl import flags

from cnmc.cli.main import run

from cnmc.benchmarks.pipeline import measure_all, report, table
from cnmc.cli import bench_flags
from cnmc_tfds.vocabulary import FOLD_SPLITS
from cnmc.storage import atomic

flags.adopt_module_key_flags(bench_flags)

_IMAGE_SIZE = flags.DEFINE_integer("image_size", 300, "Output image size in pixels.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Images per batch.", lower_bound=1)
_BATCHES = flags.DEFINE_integer("batches", 20, "Batches timed for the image-folder baselines and the affine.",
                                lower_bound=1)
_WARM_EPOCHS = flags.DEFINE_integer("warm_epochs", 3, "Epochs timed once the cache is full.", lower_bound=1)
_OUTPUT = flags.DEFINE_string("output", "bench_pipeline.json", "Where to write the JSON results.")


def main():
  size, batch, batches = _IMAGE_SIZE.value, _BATCH_SIZE.value, _BATCHES.value
  builder, folder = bench_flags.benchmark_data()
  results = measure_all(builder, folder, size, batch, batches, _WARM_EPOCHS.value)
  print(table(results))
  settings = {"image_size": size, "batch_size": batch,
              "train_images": sum(builder.info.splits[s].num_examples for s in FOLD_SPLITS),
              "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
              "date": time.strftime("%Y-%m-%d")}
  atomic.write_json(_OUTPUT.value, report(results, settings))


if __name__ == "__main__":
  run(main)
