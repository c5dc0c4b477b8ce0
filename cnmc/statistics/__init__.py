"""Statistics of scores that every layer above may use: intervals over subjects (no TensorFlow)."""
