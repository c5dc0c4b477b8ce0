"""What a training profile says: step time and the share of it spent waiting for input.

Reads the newest profile under <model_dir>/logs/train/plugins/profile (written by
`python -m trainer --profile_steps=first,last`) with the same converters TensorBoard's Profile tab
uses (xprof), and prints the numbers of its overview and input-pipeline pages.
"""

import glob
import json
import os

from cnmc.run_folder import layout


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


def summarise(xplanes: list[str]) -> dict:
  """{"steps_seen", "step_time_ms", "input_wait_ms", "input_wait_share", "conclusion"} of a profile.

  xprof's input-pipeline page is a list of DataTables (JSON); the step table's properties hold the
  averages, and it has a row per profiled step.
  """
  from xprof.convert import raw_to_tool_data
  page, _ = raw_to_tool_data.xspace_to_tool_data(xplanes, "input_pipeline_analyzer", {})
  tables = json.loads(page.decode() if isinstance(page, bytes) else page)
  steps = next((table for table in tables if "steptime_ms_average" in table.get("p", {})), None)
  step_ms = float(steps["p"]["steptime_ms_average"]) if steps else 0.0
  if step_ms == 0:
    raise ValueError("The profile has no step markers: no step time can be reported.")
  wait_ms = float(steps["p"].get("infeed_time_ms_avg") or 0.0)
  return {
      "steps_seen": len(steps.get("rows", [])),
      "step_time_ms": step_ms,
      "input_wait_ms": wait_ms,
      "input_wait_share": wait_ms / step_ms,
      "conclusion": steps["p"].get("input_conclusion"),
  }
