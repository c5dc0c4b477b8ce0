"""Several models at once: each one's P(ALL) (and with TTA), their average, and the neighbourhood
correction of the best of those, as named columns that evaluate and predict report side by side.

Members may differ in backbone and input size: the split is read once per input size (for every member of
that size together), and their predictions are matched by file name before they are combined.
"""

import dataclasses

import keras
import numpy as np

from cnmc.evaluation import calibration, inference, neighbours
from cnmc.evaluation.errors import EvaluationError
from cnmc.run_folder import record

@dataclasses.dataclass
class Member:
  model: keras.Model
  path: str
  image_size: int
  calibration: dict | None = None  # tools.calibrate's record for this very file, if any


def load_members(models: list[str], model_dirs: list[str]) -> list[Member]:
  """Every --model and every --model_dir's best (else final) model, in that order, with its calibration."""
  if not models and not model_dirs:
    raise EvaluationError("Pass at least one --model=<file.keras> or --model_dir=<a trainer run directory> "
                          "(repeat the flags for an ensemble).")
  members = [Member(*inference.load_run_model(path, None)) for path in models]
  members += [Member(*inference.load_run_model(None, folder)) for folder in model_dirs]
  for member in members:
    member.calibration = calibration.for_model(member.path)
  return members


def decision_threshold(members: list[Member], flag: float, flag_given: bool) -> tuple[float, str]:
  """(the threshold, where it comes from): --threshold if given; else one calibrated model's threshold, chosen on
  its validation split; else --threshold's default."""
  if flag_given:
    return flag, "--threshold"
  if len(members) == 1 and members[0].calibration:
    found = members[0].calibration
    return found["threshold"], f"rule {found['rule']} on {found['split']}, from tools.calibrate"
  return flag, "the default" + (" (an ensemble: each member's calibrated threshold is its own)"
                                if any(m.calibration for m in members) else "")


def calibration_lines(members: list[Member]) -> list[str]:
  """What the console says of the calibrations applied."""
  return [f"Calibrated: {m.path}: temperature {m.calibration['temperature']:.3f}, fitted on "
          f"{m.calibration['split']} ({m.calibration['images']} images)" for m in members if m.calibration]


def first_model_path(models: list[str], model_dirs: list[str]) -> str:
  """The file the first member will be loaded from (results go beside it by default)."""
  return inference.resolve_model(models[0], None) if models else inference.resolve_model(None, model_dirs[0])


def run_record(members: list[Member], dataset_given: bool) -> record.RunRecord | None:
  """The run record of the first member that has one (a bare .keras file has none); members trained on
  different datasets need --dataset to say which to read."""
  records = [r for r in (inference.run_record(m.path) for m in members) if r is not None]
  datasets = {r.dataset_name for r in records if r.dataset_name}
  if len(datasets) > 1 and not dataset_given:
    raise EvaluationError(f"The ensemble's members were trained on different datasets ({', '.join(sorted(datasets))}):"
                          " pass --dataset to say which to score.")
  return records[0] if records else None


def predict_members(members: list[Member], read, tta_modes, features: bool, total: int) -> list[dict]:
  """Each member's predictions over read(image_size) (batches of dicts), aligned by file name. Members of one
  input size share one read: each image is decoded once per size, not once per member."""
  predicted: list[dict | None] = [None] * len(members)
  for size in dict.fromkeys(member.image_size for member in members):  # sizes in the members' order
    group = [i for i, member in enumerate(members) if member.image_size == size]
    if len(members) > 1:
      print(f"Member{'s' if len(group) > 1 else ''} {', '.join(str(i + 1) for i in group)} of {len(members)} "
            f"({size} px): {', '.join(members[i].path for i in group)}", flush=True)
    results = inference.predict_models([members[i].model for i in group], read(size), tta_modes, total=total,
                                       features=features)
    for i, result in zip(group, results, strict=True):
      predicted[i] = calibrated(result, members[i].calibration)
  return align(predicted)


def calibrated(predicted: dict, found: dict | None) -> dict:
  """A member's predictions with its temperature applied to P(ALL) (with and without TTA)."""
  if not found:
    return predicted
  return {column: calibration.apply_temperature(values, found["temperature"]).astype(np.float32)
          if column.startswith("probability") else values for column, values in predicted.items()}


def csv_column(name: str) -> str:
  """predictions.csv's column of a method: probability, probability_tta, probability_<name>."""
  return {"plain": "probability", "tta": "probability_tta"}.get(name, f"probability_{name}")


def member_names(count: int) -> list[str]:
  return ["plain"] if count == 1 else [f"member_{i + 1}" for i in range(count)]


def align(predicted: list[dict], key: str = "file_name") -> list[dict]:
  """The members' prediction dicts in one order (the first member's), matched by file name."""
  first = predicted[0][key]
  aligned = [predicted[0]]
  for other in predicted[1:]:
    position = {name: i for i, name in enumerate(other[key])}
    if len(position) != len(first) or any(name not in position for name in first):
      raise EvaluationError("The ensemble's members did not see the same images (a dataset read differently?).")
    order = np.array([position[name] for name in first])
    aligned.append({column: np.asarray(values)[order] for column, values in other.items()})
  return aligned


def combine(predicted: list[dict], tta: bool, neighbour_k: int, neighbour_weight: float) -> dict[str, np.ndarray]:
  """Named P(ALL) columns from the members' aligned predictions (probability, probability_tta,
  features). Labels, if present, are never read.

  One model: plain (and tta). Several: member_i (and member_i_tta), ensemble (the mean of the members'),
  and ensemble_tta. With neighbour_k > 0: neighbours, the correction of the last of those (TTA'd
  ensemble, else ensemble, else the single model's best) using the members' joint features.
  """
  names = member_names(len(predicted))
  columns = {}
  for name, member in zip(names, predicted, strict=True):
    columns[name] = member["probability"]
    if tta:
      columns["tta" if name == "plain" else f"{name}_tta"] = member["probability_tta"]
  if len(predicted) > 1:
    columns["ensemble"] = np.mean([m["probability"] for m in predicted], axis=0)
    if tta:
      columns["ensemble_tta"] = np.mean([m["probability_tta"] for m in predicted], axis=0)
  if neighbour_k > 0 and neighbour_weight > 0:
    base = list(columns)[-1]
    embedding = neighbours.joint_embedding([m["features"] for m in predicted])
    columns["neighbours"] = neighbours.correct(columns[base], embedding, neighbour_k, neighbour_weight)
  return columns
