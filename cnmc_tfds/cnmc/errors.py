"""The one error type for problems with the user's data on disk."""

from absl import app


class DatasetError(app.UsageError):
  """A user's data is missing, misplaced or damaged; the message says which file and what to do.

  It subclasses absl's UsageError because `tfds build` runs under `absl.app.run`, which prints a
  UsageError as a short message with a non-zero exit instead of a traceback.
  """
