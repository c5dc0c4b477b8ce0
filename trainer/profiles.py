"""What a training profile says: step time and the share of it spent waiting for input.

Reads the newest profile under <model_dir>/logs/train/plugins/profile (written by
`python -m trainer --profile_steps=first,last`) with the same converters TensorBoard's Profile tab
uses (xprof), and prints the numbers of its overview and input-pipeline pages.
"""

import glob
import os
import re

from run_folder import layout


def profile_runs(model_dir: str) -> list[str]:
  """The profile folders the trainer wrote under model_dir, oldest first."""
  return sorted(glob.glob(os.path.join(model_dir, *layout.PROFILE_DIR, "*")))


def has_profile(model_dir: str) -> bool:
  return bool(profile_runs(model_dir))


def newest_profile(model_dir: str) -> list[str]:
  """The .xplane.pb files of the newest profile run under model_dir (one per host)."""
  runs = profile_runs(model_dir)
  if not runs:
    raise FileNotFoundError(f"No profile under {model_dir}/logs/train/plugins/profile: train with "
                            "--profile_steps=first,last to record one.")
  return sorted(glob.glob(os.path.join(runs[-1], "*.xplane.pb")))


def _field(page: str, name: str) -> str | None:
  match = re.search(rf'"{name}":"([^"]*)"', page)
  return match.group(1) if match else None


def summarise(xplanes: list[str]) -> dict:
  """{"steps_seen", "step_time_ms", "input_wait_ms", "input_wait_share", "conclusion"} of a profile."""
  from xprof.convert import raw_to_tool_data
  page, _ = raw_to_tool_data.xspace_to_tool_data(xplanes, "input_pipeline_analyzer", {})
  page = page.decode() if isinstance(page, bytes) else page
  step_ms = _field(page, "steptime_ms_average")
  wait_ms = _field(page, "infeed_time_ms_avg")
  if step_ms is None or float(step_ms) == 0:
    raise ValueError("The profile has no step markers: no step time can be reported.")
  return {
      "steps_seen": len(re.findall(r"Step \w+ \d+, duration", page)),  # one tooltip per profiled step
      "step_time_ms": float(step_ms),
      "input_wait_ms": float(wait_ms or 0.0),
      "input_wait_share": float(wait_ms or 0.0) / float(step_ms),
      "conclusion": _field(page, "input_conclusion"),
  }
