"""Prints what a training profile says: step time and the share of it spent waiting for input.

  python -m tools.profile_summary runs/cnmc-synthetic-effnetb3-300px

Reads the newest profile under <model_dir>/logs/train/plugins/profile with the converters
TensorBoard's Profile tab uses (xprof); see trainer/profiles.py.
"""

import json

from absl import app

from cnmc.cli.main import run


def main(arguments: list[str]):
  if len(arguments) != 1:
    raise app.UsageError("Usage: python -m tools.profile_summary <model_dir>")
  from trainer.profiles import newest_profile, summarise
  try:
    print(json.dumps(summarise(newest_profile(arguments[0])), indent=2))
  except (FileNotFoundError, ValueError) as error:
    raise app.UsageError(str(error)) from None


if __name__ == "__main__":
  run(main, pass_arguments=True)
