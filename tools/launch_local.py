"""Multi-worker training on this machine: N trainer processes on 127.0.0.1, one TF_CONFIG each.

  python -m tools.launch_local --workers=2 -- --backbone=effnetb3 --model_dir=runs/two-workers
  python -m tools.launch_local --workers=4 --gpus=0,1,2,3 -- --dataset=cnmc/real --epochs=20

Everything after `--` goes to every `python -m trainer` unchanged. The launcher picks free ports,
gives worker i the TF_CONFIG of task i (worker 0 is the chief and writes --model_dir), prints every
line of every worker prefixed with [worker i], and exits with the chief's exit status. It is a
convenience to try TensorFlow's multi-worker engine on one host, or to run one process per GPU;
on several machines start the trainer yourself with TF_CONFIG or under SLURM (README).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from absl import flags

from cnmc.cli.main import fail, run
from cnmc.console import exits

WORKERS = flags.DEFINE_integer("workers", 2, "How many trainer processes to start.", lower_bound=1)
GPUS = flags.DEFINE_list("gpus", [], "GPU indices to share out (CUDA_VISIBLE_DEVICES), the same number to each "
                         "worker, e.g. 0,1,2,3 with --workers=2; empty = every worker sees every device.")
GRACE_SECONDS = 15  # after the chief ends, how long the others get to end on their own
CHIEF_GRACE_SECONDS = 90  # after another worker fails, how long the chief gets to notice (heartbeat: 30 s)


def free_ports(count: int) -> list[int]:
  """Ports the kernel reports free on 127.0.0.1 (held until all are chosen, so they differ)."""
  sockets = []
  for _ in range(count):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    sockets.append(s)
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def tf_config(addresses: list[str], index: int) -> str:
  return json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})


def device_shares(gpus: list[str], workers: int) -> list[str | None]:
  """CUDA_VISIBLE_DEVICES for each worker, or None each when --gpus is empty."""
  if not gpus:
    return [None] * workers
  if len(gpus) % workers:
    fail(f"--gpus lists {len(gpus)} devices, which do not divide evenly among --workers={workers}.")
  per = len(gpus) // workers
  return [",".join(gpus[i * per:(i + 1) * per]) for i in range(workers)]


def check_trainer_arguments(arguments: list[str]) -> None:
  for argument in arguments:
    if argument.startswith("--strategy=") and argument.split("=", 1)[1] not in ("auto", "multi_worker"):
      fail(f"{argument}: the launcher runs multi-worker training; leave --strategy out (or use multi_worker).")


def _relay(process: subprocess.Popen, prefix: str) -> None:
  for line in process.stdout:
    sys.stdout.write(f"{prefix} {line}")
    sys.stdout.flush()


def _wait_for_chief(processes: list[subprocess.Popen]) -> int:
  """The chief's exit status; if another worker fails first and the chief does not stop by itself
  (it may be waiting for that worker to join), the chief is stopped."""
  chief, failed_at = processes[0], None
  while chief.poll() is None:
    if failed_at is None and any(p.poll() for p in processes[1:]):
      failed_at = time.monotonic()
    if failed_at is not None and time.monotonic() - failed_at > CHIEF_GRACE_SECONDS:
      print(f"[launcher] a worker failed and the chief has not stopped {CHIEF_GRACE_SECONDS} s later; stopping it.",
            flush=True)
      chief.kill()
    time.sleep(0.2)
  return chief.returncode


def launch(arguments: list[str], workers: int, gpus: list[str]) -> int:
  """Starts the workers and waits for the chief; returns its exit status."""
  check_trainer_arguments(arguments)
  addresses = [f"127.0.0.1:{port}" for port in free_ports(workers)]
  print(f"Starting {workers} trainer processes on {', '.join(addresses)} (worker 0 is the chief).", flush=True)
  processes, relays = [], []
  for index, devices in enumerate(device_shares(gpus, workers)):
    env = {**os.environ, "TF_CONFIG": tf_config(addresses, index), "PYTHONUNBUFFERED": "1"}
    if devices is not None:
      env["CUDA_VISIBLE_DEVICES"] = devices
    process = subprocess.Popen([sys.executable, "-m", "trainer", *arguments], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace")
    processes.append(process)
    relays.append(threading.Thread(target=_relay, args=(process, f"[worker {index}]"), daemon=True))
    relays[-1].start()
  interrupted = None
  try:
    status = _wait_for_chief(processes)
  except KeyboardInterrupt as interrupt:  # the workers are stopped below, each saying what it keeps
    interrupted, status = interrupt, None
    for process in processes:
      process.send_signal(signal.SIGINT)
  deadline = time.monotonic() + GRACE_SECONDS
  for index, process in enumerate(processes):
    try:
      process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:  # TensorFlow catches SIGTERM in multi-worker jobs: only SIGKILL ends it
      print(f"[launcher] worker {index} is still running {GRACE_SECONDS} s later; stopping it.", flush=True)
      process.kill()
      process.wait()
  for relay in relays:
    relay.join(timeout=5)
  if interrupted is not None:
    raise exits.Stopped(f"{exits.interrupt_name(interrupted)}: every worker was stopped; the chief's --model_dir "
                        "keeps its finished epochs. Rerun the same command to resume.", interrupted)
  failed = [i for i, p in enumerate(processes) if p.returncode]
  print(f"[launcher] the chief exited with status {status}"
        + (f"; worker(s) {', '.join(map(str, failed))} failed (output above)." if failed else "."), flush=True)
  return status


def main(arguments: list[str]):
  sys.exit(launch(arguments, WORKERS.value, GPUS.value))


if __name__ == "__main__":
  run(main, pass_arguments=True, uses_tensorflow=False)
