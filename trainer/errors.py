"""TrainerError: a user's mistake (a flag, a file, a folder); printed as one message, exit 1."""

from absl import app


class TrainerError(app.UsageError):
  """Raised for bad flags or inputs; absl.app.run prints UsageErrors without a traceback."""
