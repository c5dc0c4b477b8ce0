"""The augmentation settings by name, defined once (the trainer's --augmentation, the layers' defaults,
the benchmarks' baselines all read them)."""

# The public Kaggle notebooks' ImageDataGenerator(rotation_range=20, width/height_shift_range=0.2,
# shear_range=0.2, zoom_range=0.2, horizontal_flip=True), in this project's units; no colour.
NOTEBOOK = dict(rotation=20.0, shift=0.2, shear=0.2, zoom=0.2, horizontal_flip=True, vertical_flip=False,
                brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)

# Cells have no orientation: any rotation, both flips; mild shift/shear/zoom; stain jitter.
CELLS = dict(rotation=180.0, shift=0.1, shear=0.1, zoom=0.1, horizontal_flip=True, vertical_flip=True,
             brightness=0.1, contrast=0.1, saturation=0.1, hue=0.03)

PRESETS = {"cells": CELLS, "notebook": NOTEBOOK, "none": None}
