"""Mistakes in what the evaluation tools were asked to do: printed as one line, exit status 1."""

from absl import app


class EvaluationError(app.UsageError):
  """A missing or unreadable model, image or split; the message says which and what to do."""
