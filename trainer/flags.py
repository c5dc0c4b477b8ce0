"""The trainer's command-line flags, one per TrainConfig field, generated from the fields (absl: --flagfile works,
--helpfull lists them all); --quick is the one flag of its own."""

import dataclasses

from absl import flags

from cnmc.console.bounded_flags import FloatInRange, define_float
from cnmc.storage import paths
from trainer import backbones
from trainer.config import TrainConfig, flag_text, settings, values_of
from trainer.errors import TrainerError

FLAGS = flags.FLAGS


def _define(name: str, default, setting) -> None:
  """One absl flag for the field: its kind from the default's type, its range and choices from the Setting."""
  bounds = dict(lower_bound=setting.lower, upper_bound=setting.upper)
  if setting.choices is not None:
    choices = backbones.names() if setting.choices == "backbones" else list(setting.choices)
    flags.DEFINE_enum(name, default, choices, setting.help)
  elif setting.flag_text is not None:
    flags.DEFINE_string(name, setting.flag_text, setting.help)
  elif isinstance(default, bool):
    flags.DEFINE_bool(name, default, setting.help)
  elif isinstance(default, int):
    flags.DEFINE_integer(name, default, setting.help, **{k: v for k, v in bounds.items() if v is not None})
  elif isinstance(default, float):
    define_float(FloatInRange(setting.lower, setting.upper, setting.lower_open, setting.upper_open), name, default,
                 setting.help)
  elif isinstance(default, tuple):
    flags.DEFINE_list(name, list(default), setting.help)
  else:
    flags.DEFINE_string(name, default, setting.help)


for _field in dataclasses.fields(TrainConfig):
  _define(_field.name, _field.default, _field.metadata["setting"])

QUICK = flags.DEFINE_bool("quick", False, "Smoke run: " + ", ".join(
    f"{name} {flag_text(name, value)}" for name, value in values_of("quick").items())
    + ". Flags given explicitly still win.")


def given() -> set[str]:
  """The trainer flags given on the command line (or in a --flagfile)."""
  return {name for name in settings() if FLAGS[name].present}


def _steps_range(text: str) -> tuple[int, int] | None:
  """A first,last flag (0,0 = off) or auto (None)."""
  if text == "auto":
    return None
  try:
    first, last = (int(part) for part in text.split(","))
  except ValueError:
    raise ValueError("expected first,last (e.g. 5,10), 0,0 or auto") from None
  if first < 0 or last < first:
    raise ValueError("need 0 <= first <= last")
  return first, last


def _field_value(name: str, value, setting, default):
  """A flag's value in its field's form: ~ and $VARS expanded in paths, lists as tuples, typed text parsed."""
  if setting.path:
    return paths.expand_path(value)
  if isinstance(default, tuple):
    return tuple(value)
  if setting.flag_text is not None and isinstance(value, str):
    try:
      return _steps_range(value)
    except ValueError as error:
      raise TrainerError(f"--{name}={value!r}: {error}.") from None
  return value


def config_from_flags(defaults: dict | None = None) -> TrainConfig:
  """The parsed flags as a TrainConfig. --quick fills in what was not given explicitly, and so do `defaults`
  ({field: value}, e.g. a tool's CPU-sized runs) for what neither the command line nor --quick set.

  Raises:
    TrainerError: a flag whose text does not parse, or settings that contradict each other.
  """
  values = {name: FLAGS[name].value for name in settings()}
  filled = {**(defaults or {}), **(values_of("quick") if QUICK.value else {})}
  values.update({name: value for name, value in filled.items() if not FLAGS[name].present})
  fields = {field.name: field for field in dataclasses.fields(TrainConfig)}
  return TrainConfig(**{name: _field_value(name, value, settings()[name], fields[name].default)
                        for name, value in values.items()})
