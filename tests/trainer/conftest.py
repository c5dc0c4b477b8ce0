"""What several trainer tests share."""

import pytest
from absl import flags


@pytest.fixture
def parse():
  """parse(*argv): the trainer's flags parsed from argv, as a TrainConfig; the flags are reset afterwards."""
  from trainer import flags as trainer_flags

  def parse(*argv):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["trainer", *argv])
    return trainer_flags.config_from_flags()
  yield parse
  flags.FLAGS.unparse_flags()
