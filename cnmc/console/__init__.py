"""What every command shares at its start and end: one error exit, signals, quiet logs, flag bounds (no TensorFlow)."""
