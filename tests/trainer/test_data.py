"""The trainer's inputs: what it validates on each epoch."""

from tests.trainer.helpers import tiny_config
from trainer.data import val_input


def test_validation_steps_validate_on_the_same_first_batches_every_epoch(tiny_synthetic, tmp_path):
  validation = val_input(tiny_synthetic, tiny_config(tmp_path, batch_size=4, validation_steps=2), 16)
  epochs = [[y.numpy().tolist() for _, y in validation] for _ in range(3)]
  assert len(epochs[0]) == 2 and epochs[0] == epochs[1] == epochs[2]
