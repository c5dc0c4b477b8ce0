"""How every tool starts and ends: console.exits' one error exit, and the GPU's memory shared."""

from collections.abc import Callable

from cnmc.console import exits, quiet
from cnmc.console.exits import fail  # noqa: F401  (the tools' one way to stop with a message)
from cnmc.storage import paths


def require_writable(flag: str, folder: str) -> None:
  """Fails early, naming the flag, if `folder` cannot be made or written in."""
  problem = paths.writable_dir_problem(folder)
  if problem:
    fail(f"{flag}={folder}: {problem}.")


def share_gpu_memory() -> None:
  """Lets TensorFlow take GPU memory as it needs it instead of all of it at once.

  The tools run next to training processes: cross-validation scores each fold in this process
  between fold trainers it starts, and people evaluate a checkpoint while a run trains. Without
  this, the first of them to touch the GPU holds nearly all its memory and the next runs out.
  """
  import tensorflow as tf
  for gpu in tf.config.list_physical_devices("GPU"):
    tf.config.experimental.set_memory_growth(gpu, True)


def run(main: Callable[..., object], pass_arguments: bool = False, uses_tensorflow: bool = True) -> None:
  """cnmc.console.exits.run for a tool whose `main()` takes no arguments (or, with pass_arguments, the
  command line's arguments after the flags, e.g. what follows `--`). A tool that uses TensorFlow
  shares the GPU's memory (share_gpu_memory) from its start. Leftover positional arguments (unless
  passed) are refused.
  """
  def tool_main(arguments: list[str]):
    if arguments and not pass_arguments:
      fail(f"Unexpected arguments: {' '.join(arguments)} (flags start with --).")
    if uses_tensorflow:
      quiet.import_tensorflow()
      share_gpu_memory()
    main(arguments) if pass_arguments else main()
  exits.run(tool_main, on_data_loss=describe_data_loss)


def describe_data_loss(error: Exception) -> str:
  """Which dataset file is damaged and the command that rebuilds it (imports TensorFlow: only then)."""
  from cnmc_tfds import integrity
  return integrity.describe_data_loss(error)
