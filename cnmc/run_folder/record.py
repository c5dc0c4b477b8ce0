"""config.json, results.json and history.csv: the one writer and the one reader of each.

config.json is a versioned record (`format`). A record without the field is format 1, the only format
so far; a record of a newer format than this code knows is refused, with a message to update cnmc.
"""

import csv
import dataclasses
import json
import os

from cnmc.run_folder import layout
from cnmc.storage import atomic

FORMAT = 1  # of config.json; raise it when a field's meaning changes


class DamagedRecord(ValueError):
  """A run folder's record cannot be read: damaged, or written by a newer cnmc. str() says which file and why."""


@dataclasses.dataclass(frozen=True)
class RunRecord:
  """What made a run: its flags, what `auto` and the defaults resolved to, the dataset it read."""
  flags: dict  # the trainer's TrainConfig, as JSON
  resolved: dict = dataclasses.field(default_factory=dict)  # image_size, device, precision, xla, strategy, ...
  dataset: dict = dataclasses.field(default_factory=dict)  # name, config, version, data_dir (the prepared folder)
  versions: dict = dataclasses.field(default_factory=dict)  # tensorflow, keras
  format: int = FORMAT

  @property
  def val_split(self) -> str:
    return self.flags.get("val_split", "validation")

  @property
  def dataset_name(self) -> str:
    """e.g. 'cnmc/synthetic'; '' if the record names no dataset."""
    return f"{self.dataset['name']}/{self.dataset['config']}" if self.dataset else ""

  @property
  def dataset_folder(self) -> str:
    """The prepared dataset folder the run read (<data_dir>/cnmc/<config>/<version>)."""
    return self.dataset.get("data_dir", "")


def write_record(model_dir: str, record: RunRecord) -> None:
  atomic.write_json(os.path.join(model_dir, layout.CONFIG), dataclasses.asdict(record))


def read_record(model_dir: str) -> RunRecord | None:
  """The run's record, None if the folder has none. Raises DamagedRecord."""
  path = os.path.join(model_dir, layout.CONFIG)
  data = _read_json(path)
  if data is None:
    return None
  if not isinstance(data, dict) or not isinstance(data.get("flags"), dict):
    raise DamagedRecord(f"{path} is damaged (it has no \"flags\" object)")
  known = {field.name for field in dataclasses.fields(RunRecord)}
  record = RunRecord(**{key: value for key, value in data.items() if key in known})
  if not isinstance(record.format, int) or record.format > FORMAT:
    raise DamagedRecord(f"{path} was written by a newer cnmc (record format {record.format}; this one reads "
                        f"up to {FORMAT}): update cnmc to use this run")
  return record


def write_results(model_dir: str, results: dict) -> None:
  atomic.write_json(os.path.join(model_dir, layout.RESULTS), results)


def read_results(model_dir: str) -> dict | None:
  """results.json (the run is finished), None if there is none. Raises DamagedRecord."""
  return _read_json(os.path.join(model_dir, layout.RESULTS))


def write_calibration(model_dir: str, calibration: dict) -> None:
  atomic.write_json(os.path.join(model_dir, layout.CALIBRATION), calibration)


def read_calibration(model_dir: str) -> dict | None:
  """calibration.json (tools.calibrate), None if there is none. Raises DamagedRecord."""
  return _read_json(os.path.join(model_dir, layout.CALIBRATION))


def read_history(model_dir: str) -> list[dict]:
  """history.csv as rows of {column: float} (epoch counted from 1); [] if no epoch has finished."""
  path = os.path.join(model_dir, layout.HISTORY)
  if not os.path.exists(path):
    return []
  with open(path, newline="") as f:
    return [{key: float(value) for key, value in row.items() if value != ""} for row in csv.DictReader(f)]


def read_commit(model_dir: str) -> dict | None:
  """backup/state.json, the commit record of the finished epochs (history rows, best epoch, weight files); None
  if no epoch was committed. Raises DamagedRecord."""
  return _read_json(os.path.join(model_dir, layout.BACKUP_DIR, layout.STATE))


def has_finished_epoch(model_dir: str) -> bool:
  """Whether a run in model_dir finished at least one epoch (or the whole run)."""
  return any(os.path.exists(os.path.join(model_dir, *parts))
             for parts in ((layout.BACKUP_DIR, layout.STATE), (layout.RESULTS,), (layout.HISTORY,)))


def _read_json(path: str):
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError) as error:
    raise DamagedRecord(f"{path} is damaged ({error})") from None
