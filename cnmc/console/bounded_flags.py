"""Float flags whose range has an open end, which absl's inclusive `lower_bound`/`upper_bound` cannot say.

A learning rate must be > 0 (0 trains nothing, < 0 climbs the loss); a dropout rate must be < 1.
Integers need nothing here: absl's `lower_bound=1` already means "a positive integer". The range is
checked at parse time and shown in --help, as absl shows its own bounds.
"""

import sys

from absl import flags


class FloatInRange(flags.FloatParser):
  """A float in (lower, upper), [lower, upper), ... as asked; absl's help text says which."""

  def __init__(self, lower: float, upper: float | None, lower_open: bool, upper_open: bool):
    super().__init__(lower_bound=lower, upper_bound=upper)
    self.lower_open, self.upper_open = lower_open, upper_open
    if upper is None:
      self.syntactic_help = f"a number {'>' if lower_open else '>='} {lower:g}"
    else:
      self.syntactic_help = (f"a number in the range {'(' if lower_open else '['}{lower:g}, {upper:g}"
                             f"{')' if upper_open else ']'}")

  def is_outside_bounds(self, val: float) -> bool:
    below = val <= self.lower_bound if self.lower_open else val < self.lower_bound
    above = self.upper_bound is not None and (val >= self.upper_bound if self.upper_open else val > self.upper_bound)
    return below or above


def define_float(parser: FloatInRange, name: str, default: float, help_text: str,
                 module_name: str | None = None) -> flags.FlagHolder:
  """A float flag checked by parser; a key flag of module_name (default: the module calling this), so its --help
  lists it."""
  caller = module_name or sys._getframe(1).f_globals["__name__"]
  holder = flags.DEFINE(parser, name, default, help_text, serializer=flags.ArgumentSerializer(), module_name=caller)
  if parser.is_outside_bounds(default):
    raise ValueError(f"--{name}'s default {default} is not {parser.syntactic_help}")
  return holder


def define_positive_float(name: str, default: float, help_text: str) -> flags.FlagHolder:
  """A float flag that must be > 0 (learning rates, scales)."""
  return define_float(FloatInRange(0.0, None, lower_open=True, upper_open=False), name, default, help_text,
                      sys._getframe(1).f_globals["__name__"])


def define_non_negative_float(name: str, default: float, help_text: str) -> flags.FlagHolder:
  """A float flag that must be >= 0 (0 usually meaning "off")."""
  return define_float(FloatInRange(0.0, None, lower_open=False, upper_open=False), name, default, help_text,
                      sys._getframe(1).f_globals["__name__"])


def define_fraction(name: str, default: float, help_text: str, below_one: bool = False) -> flags.FlagHolder:
  """A float flag in [0, 1], or [0, 1) with below_one (a dropout rate of 1 drops everything)."""
  return define_float(FloatInRange(0.0, 1.0, lower_open=False, upper_open=below_one), name, default, help_text,
                      sys._getframe(1).f_globals["__name__"])
