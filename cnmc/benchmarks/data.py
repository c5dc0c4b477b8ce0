"""What the benchmarks share: the synthetic benchmark data and the notebooks' augmentation ranges."""

import os

from pipeline.augmentation_presets import NOTEBOOK

# The notebook approach's augmentation ranges, as each API takes them.
ROTATION_DEGREES, SHIFT, SHEAR, ZOOM = (NOTEBOOK[name] for name in ("rotation", "shift", "shear", "zoom"))


def build_benchmark_data(data_dir: str, images_scale: float):
  """The synthetic dataset at the requested scale; returns (builder, training-folder with all/ hem/)."""
  from cnmc_tfds.cnmc.cnmc_dataset_builder import Builder, CnmcConfig
  config = CnmcConfig(name=f"synthetic_bench_{images_scale:g}", synthetic=True, images_scale=images_scale,
                      subjects_scale=1.0, description="Benchmark data.")
  builder = Builder(config=config, data_dir=data_dir)
  builder.download_and_prepare()
  return builder, class_folders(builder)


def class_folders(builder) -> str:
  """For a built synthetic dataset: a folder beside it with all/ and hem/ holding its training BMPs."""
  from cnmc_tfds.cnmc import layout
  data_dir = os.path.dirname(os.path.dirname(os.path.dirname(str(builder.data_dir))))  # <data_dir>/cnmc/<c>/<v>
  # The BMP download it was built from (tfds' default download folder is <data_dir>/downloads).
  tree = builder.synthetic_download_path(os.path.join(data_dir, "downloads")) / layout.KAGGLE_ROOT
  name = builder.builder_config.name
  return _merged_class_folders(tree / "training_data", os.path.join(data_dir, f"{name}_flat"))


def _merged_class_folders(training_data, target: str) -> str:
  """One folder with all/ and hem/ holding symlinks to every fold's BMPs (what *_from_directory want)."""
  if not os.path.isdir(target):
    staging = target + ".incomplete"
    for fold in sorted(training_data.iterdir()):
      for class_dir in fold.iterdir():
        os.makedirs(os.path.join(staging, class_dir.name), exist_ok=True)
        for image in class_dir.iterdir():
          os.symlink(image, os.path.join(staging, class_dir.name, image.name))
    os.rename(staging, target)
  return target
