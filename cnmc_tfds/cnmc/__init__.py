"""The C-NMC 2019 dataset builder, laid out as `tfds new` lays out a dataset."""
