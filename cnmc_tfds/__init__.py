"""Registers the `cnmc` TFDS dataset: `import cnmc_tfds` makes `tfds.load("cnmc/...")` work."""

from cnmc_tfds.cnmc.cnmc_dataset_builder import Builder as Cnmc  # noqa: F401  (registers "cnmc")
