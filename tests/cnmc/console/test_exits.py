"""Every command's end: flags that do not parse, user errors, interrupts and damaged files are one line."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest
from cnmc.console import bounded_flags, exits
from tests.support.subprocesses import as_from_a_terminal, environment, python

# A stand-in command: what it does is chosen by its first argument.
COMMAND = textwrap.dedent("""
  import os, signal, sys, time
  from absl import app
  from cnmc.console import bounded_flags, exits
  RATE = bounded_flags.define_positive_float("rate", 0.1, "A rate.")
  SHARE = bounded_flags.define_fraction("share", 0.5, "A share.", below_one=True)

  def main(arguments):
    what = arguments[0] if arguments else ""
    if what == "usage":
      raise app.UsageError("the flag --x is wrong; pass --x=1")
    if what == "oserror":
      open("/nonexistent/folder/file")
    if what == "wait":
      print("waiting", flush=True)
      time.sleep(60)
    if what == "stopped":
      try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
      except KeyboardInterrupt as interrupt:
        raise exits.Stopped(f"{exits.interrupt_name(interrupt)} in step 3; kept: all", interrupt) from None
    if what == "bug":
      raise RuntimeError("a bug keeps its traceback")
    print("ok", RATE.value, SHARE.value)

  exits.run(main)
""")


def command(*args: str) -> subprocess.CompletedProcess:
  return python("-c", COMMAND, *args, timeout=60)


def assert_one_line(result, code: int, *phrases: str) -> str:
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert result.returncode == code, result.stderr
  assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
  for phrase in phrases:
    assert phrase in lines[0], lines[0]
  return lines[0]


def test_flags_that_do_not_parse_are_one_line_naming_the_flag():
  assert_one_line(command("--rate=-1"), 1, "--rate=-1", "is not a number > 0")
  assert_one_line(command("--rate=0"), 1, "--rate=0", "> 0")
  assert_one_line(command("--share=1"), 1, "--share=1", "[0, 1)")
  assert_one_line(command("--no_such_flag"), 1, "no_such_flag")
  ok = command("--rate=2.5", "--share=0")
  assert ok.returncode == 0 and "ok 2.5 0.0" in ok.stdout


def test_user_errors_and_os_errors_are_one_line():
  assert_one_line(command("usage"), 1, "the flag --x is wrong; pass --x=1")
  assert_one_line(command("oserror"), 1, "No such file or directory: /nonexistent/folder/file")


def test_a_bug_is_not_hidden():
  result = command("bug")
  assert result.returncode == 1 and "Traceback" in result.stderr and "a bug keeps its traceback" in result.stderr


def test_a_described_interrupt_prints_its_own_words():
  assert_one_line(command("stopped"), exits.EXIT_INTERRUPTED, "Interrupted (Ctrl-C) in step 3; kept: all")


@pytest.mark.parametrize("signum, code, name", [(signal.SIGINT, 130, "Interrupted (Ctrl-C)"),
                                                (signal.SIGTERM, 143, "Terminated (SIGTERM)")])
def test_ctrl_c_and_sigterm_end_in_one_line_with_the_shells_status(signum, code, name):
  process = subprocess.Popen([sys.executable, "-c", COMMAND, "wait"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=environment(),
                             preexec_fn=as_from_a_terminal)
  assert process.stdout.readline().strip() == "waiting"
  time.sleep(0.2)
  process.send_signal(signum)
  stdout, stderr = process.communicate(timeout=30)
  assert_one_line(subprocess.CompletedProcess([], process.returncode, stdout, stderr), code, name)


def test_a_float_range_parser_says_its_range_and_refuses_the_ends():
  positive = bounded_flags.FloatInRange(0.0, None, lower_open=True, upper_open=False)
  assert positive.syntactic_help == "a number > 0"
  assert positive.parse("1e-9") == 1e-9
  for bad in ("0", "-0.1"):
    with pytest.raises(ValueError):
      positive.parse(bad)
  share = bounded_flags.FloatInRange(0.0, 1.0, lower_open=False, upper_open=True)
  assert share.parse("0") == 0.0 and share.syntactic_help == "a number in the range [0, 1)"
  with pytest.raises(ValueError):
    share.parse("1")


def test_an_interrupt_disguised_by_pybind11_is_recognised_and_nothing_else_is():
  seen = ("pybind11::error_already_set: MISMATCH of original and normalized active exception types: ORIGINAL "
          "UnavailableError REPLACED BY {}: <EMPTY MESSAGE>")
  assert type(exits.disguised_interrupt(RuntimeError(seen.format("KeyboardInterrupt")))) is KeyboardInterrupt
  assert isinstance(exits.disguised_interrupt(RuntimeError(seen.format("Terminated"))), exits.Terminated)
  assert exits.disguised_interrupt(RuntimeError("a real bug")) is None
  assert exits.disguised_interrupt(ValueError(seen.format("KeyboardInterrupt"))) is None
