"""How every tool starts: the GPU's memory is shared before the tool's work begins (tested with a
stand-in device list: this machine has no GPU)."""

import sys

import pytest

from cnmc.cli import main as cli_main


def test_every_gpu_takes_memory_as_it_needs_it(monkeypatch):
  import tensorflow as tf
  grown = []
  monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: ["gpu0", "gpu1"] if kind == "GPU" else [])
  monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda gpu, on: grown.append((gpu, on)))
  cli_main.share_gpu_memory()
  assert grown == [("gpu0", True), ("gpu1", True)]


@pytest.mark.parametrize("uses_tensorflow, expected", [(True, ["share", "main"]), (False, ["main"])])
def test_a_tool_shares_the_gpu_before_its_main_runs(monkeypatch, uses_tensorflow, expected):
  calls = []
  monkeypatch.setattr(cli_main, "share_gpu_memory", lambda: calls.append("share"))
  monkeypatch.setattr(sys, "argv", ["tool"])
  with pytest.raises(SystemExit) as raised:
    cli_main.run(lambda: calls.append("main"), uses_tensorflow=uses_tensorflow)
  assert raised.value.code in (0, None) and calls == expected
