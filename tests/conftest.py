"""Shared test set-up: quiet TensorFlow, and no test reaches the network."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests are CPU-sized and must not depend on a GPU
