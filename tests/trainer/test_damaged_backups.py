"""A run whose every backup is damaged: the rerun says how to go on, and --from_best_model continues from best.keras
with a fresh optimizer state, after the best epoch, recorded in config.json."""

import keras
import pytest

from cnmc.console.exits import Stopped
from cnmc.run_folder import layout, record
from tests.trainer.helpers import tiny_config
from trainer.errors import TrainerError

pytestmark = pytest.mark.slow  # three short trainer runs


class StopAfterEpoch(keras.callbacks.Callback):
  """Ctrl-C right after an epoch's commit (the trainer's callbacks run first)."""

  def __init__(self, epoch: int):
    super().__init__()
    self.epoch = epoch

  def on_epoch_end(self, epoch, logs=None):
    if epoch + 1 == self.epoch:
      raise KeyboardInterrupt


def test_every_backup_damaged_offers_and_takes_the_way_on_from_best_keras(tiny_synthetic, tmp_path, capsys):
  from trainer.train import run
  folder = tmp_path / "run"
  with pytest.raises(Stopped):
    run(tiny_config(folder, epochs=4, learning_rate=3e-3), extra_callbacks=[StopAfterEpoch(3)], builder=tiny_synthetic)
  committed = record.read_history(str(folder))
  best_epoch = record.read_commit(str(folder))["best"]["epoch"] + 1
  assert len(committed) == 3
  backups = sorted((folder / layout.BACKUP_DIR).glob("*.weights.h5"))
  assert len(backups) == 2
  for backup in backups:  # both cut short, as a kill during a copy would leave them
    backup.write_bytes(backup.read_bytes()[:2000])
  untouched = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file() and path.name != ".lock"}

  with pytest.raises(TrainerError) as refused:
    run(tiny_config(folder, epochs=4, learning_rate=3e-3), builder=tiny_synthetic)
  assert (f"Its best.keras (epoch {best_epoch}) is intact: rerun with --from_best_model to continue from its weights "
          "with a fresh optimizer state") in str(refused.value)
  assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file() and path.name != ".lock"
          } == untouched  # nothing touched: the user may still move the folder aside
  capsys.readouterr()

  best_head = keras.saving.load_model(folder / layout.BEST_MODEL).get_layer("probability").get_weights()[0]
  heads = []

  class HeadAtStart(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
      heads.append(self.model.get_layer("probability").get_weights()[0])

  run(tiny_config(folder, epochs=4, learning_rate=3e-3, from_best_model=True), extra_callbacks=[HeadAtStart()],
      builder=tiny_synthetic)
  out = capsys.readouterr().out
  assert f"Continuing from {folder / layout.BEST_MODEL} (epoch {best_epoch}) with a fresh optimizer state" in out
  assert (heads[0] == best_head).all()  # training went on from best.keras's weights
  rows = record.read_history(str(folder))
  assert [int(row["epoch"]) for row in rows] == [1, 2, 3, 4] and rows[:best_epoch] == committed[:best_epoch]
  resolved = record.read_record(str(folder)).resolved
  assert resolved["continued_from_best_model"] == {"after_epoch": best_epoch}
  assert record.read_record(str(folder)).flags["from_best_model"] is True
