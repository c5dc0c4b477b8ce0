"""The trainer's settings, defined once: each field's type, default, range, help and roles.

The absl flags are generated from these fields (trainer/flags.py); config.json records them; a resume compares
them; the tools change copies of them (dataclasses.replace) and start the trainer through `command_line`. What a
field is to the rest of the code (may a resume change it, does it go to TensorBoard's HParams, do the fold tools
set it per run, what --quick and the comparison tools' CPU-sized runs give it) is a property of the field, read
through the functions at the end of this module, never a list of names elsewhere.
"""

import dataclasses
import os
import shlex
from typing import Any

from cnmc_tfds.vocabulary import FOLD_SPLITS, VALIDATION_SPLIT
from pipeline.augmentation_presets import PRESETS
from trainer.errors import TrainerError

AUGMENTATIONS = PRESETS  # --augmentation's choices
OPTIMIZERS = ("adam", "adamw", "sgd")
INPUT_TRANSFORMS = ("rgb", "optical_density", "stain_normalised")
UNSET = object()  # a role a field does not have


@dataclasses.dataclass(frozen=True)
class Setting:
  """A field's flag and its roles."""
  help: str
  choices: tuple[str, ...] | None = None  # an enum flag; "backbones": the registry's names, read when flags exist
  lower: float | None = None  # inclusive unless lower_open
  upper: float | None = None  # inclusive unless upper_open
  lower_open: bool = False
  upper_open: bool = False
  path: bool = False  # ~ and $VARS expanded
  flag_text: str | None = None  # the flag's default as typed, when the field holds its parsed form
  resumable: bool = False  # may change when an interrupted run is continued (not the model, data or optimisation)
  in_hparams: bool = True  # shown in TensorBoard's HParams (paths are not)
  per_run: bool = False  # the fold tools set it for each run they start
  per_seed: bool = False  # the comparison tools set it from their --seeds
  recipe_feature: bool = False  # a feature tools.compare_recipe turns on, one at a time
  quick: Any = UNSET  # its value under --quick
  cpu_sized: Any = UNSET  # its value in the comparison tools' runs when not given


def setting(default, help: str, **roles) -> Any:  # noqa: A002  (the flag's help)
  return dataclasses.field(default=default, metadata={"setting": Setting(help, **roles)})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Everything a run depends on."""
  backbone: str = setting("effnetb3", "The feature extractor.", choices="backbones", cpu_sized="small_cnn")
  weights: str = setting(
      "imagenet", "Initial backbone weights: 'imagenet' (Keras cache ~/.keras/models/, downloaded if missing), 'none' "
      "(random init, no warm-up phase), or the path of a notop weights file.", path=True, cpu_sized="none")
  dataset: str = setting(
      "cnmc/synthetic", "TFDS name/config: cnmc/synthetic (no download needed), cnmc/synthetic_full, or cnmc/real "
      "(your download; see --manual_dir), or the folder of a prepared dataset (<data_dir>/cnmc/<config>/<version>). "
      "Built first if it is not built yet.", path=True)
  data_dir: str | None = setting(None, "TFDS data folder (default: TFDS_DATA_DIR or ~/tensorflow_datasets).",
                                 path=True, resumable=True, in_hparams=False)
  manual_dir: str | None = setting(None, "Folder holding the C-NMC 2019 download, to build cnmc/real if needed.",
                                   path=True, resumable=True, in_hparams=False)
  train_splits: tuple[str, ...] = setting(FOLD_SPLITS, "Splits to train on (subject-disjoint folds).", per_run=True)
  exclude: str = setting(
      "", "A file of cell names (one per line, or a CSV with a file_name column, such as tools.audit's "
      "label_issues.csv) never to train on. Validation and scoring sets are never filtered.", path=True)
  val_split: str = setting(VALIDATION_SPLIT, "Labelled split to validate on each epoch.", per_run=True)
  image_size: int = setting(0, "Input size in pixels; 0 = the backbone's default (effnetb3 300, inception_resnet_v2 "
                            "299).", lower=0, quick=96, cpu_sized=64)
  batch_size: int = setting(32, "Global batch size (split across replicas).", lower=1, quick=8, cpu_sized=16)
  epochs: int = setting(10, "Total epochs, warm-up included.", lower=1, resumable=True, quick=2, cpu_sized=20)
  warmup_epochs: int = setting(2, "Epochs training only the new head on a frozen backbone (pretrained weights only).",
                               lower=0, quick=1)
  learning_rate: float = setting(1e-3, "Learning rate of the warm-up (or of the whole run with --weights=none).",
                                 lower=0, lower_open=True)
  fine_tune_learning_rate: float = setting(1e-4, "Peak learning rate when the backbone is unfrozen.", lower=0,
                                           lower_open=True)
  lr_schedule: str = setting("cosine", "Schedule of the main phase: cosine decay to 0, or constant.",
                             choices=("cosine", "constant"))
  optimizer: str = setting("adam", "Optimizer (sgd: momentum 0.9).", choices=OPTIMIZERS)
  warmup_steps: int = setting(0, "Steps of linear learning-rate warm-up from 0 at the start of each phase, ahead of "
                              "its schedule; 0 = none.", lower=0, recipe_feature=True)
  clipnorm: float = setting(0.0, "Clip the gradients to this global norm; 0 = no clipping.", lower=0,
                            recipe_feature=True)
  accumulation_steps: int = setting(1, "Average the gradients of this many batches into one update: an effective "
                                    "batch of --batch_size x this, in the memory of one --batch_size (each step "
                                    "is one update).", lower=1,
                                    recipe_feature=True)
  label_smoothing: float = setting(0.0, "Smooth the training loss's targets to y(1-e)+e/2; scores and the best epoch "
                                   "use the true labels.", lower=0, upper=1, upper_open=True, recipe_feature=True)
  ema_decay: float = setting(0.0, "Validate, keep as best and export the exponential moving average of the weights, "
                             "with this decay per update (e.g. 0.999; an average over about 1/(1-decay) updates); "
                             "0 = off.", lower=0, upper=1, upper_open=True, recipe_feature=True)
  mixup_alpha: float = setting(0.0, "Mixup on the device: blend each training image with its partner in the batch by "
                               "a share drawn from Beta(alpha, alpha) (e.g. 0.2-0.4); the loss takes the mixed "
                               "labels; 0 = off.", lower=0, recipe_feature=True)
  cutmix_alpha: float = setting(0.0, "Cutmix on the device: paste a box of the partner image, of area share drawn "
                                "from Beta(alpha, alpha) (e.g. 1.0); with mixup too, each mixed batch is one or the "
                                "other; 0 = off.", lower=0, recipe_feature=True)
  mix_probability: float = setting(1.0, "With mixup or cutmix on: the share of training batches that are mixed.",
                                   lower=0, upper=1)
  dropout: float = setting(0.3, "Dropout rate before the classification layer.", lower=0, upper=1, upper_open=True)
  augmentation: str = setting("cells", "On-device augmentation: cells (any rotation, flips, stain jitter), notebook "
                              "(the public notebooks' ranges), none.", choices=tuple(AUGMENTATIONS))
  input_transform: str = setting(
      "rgb", "What the backbone sees, computed in the model: rgb; optical_density (-log((I+1)/256) per channel); "
      "stain_normalised (each cell's colour mean and spread made equal). Background stays black.",
      choices=INPUT_TRANSFORMS)
  balance: str = setting("oversample", "Class balance: draw HEM and ALL 50/50, weight the loss, or neither.",
                         choices=("oversample", "class_weight", "none"))
  mixed_precision: str = setting("auto", "Compute precision; auto = float16 on a GPU, float32 on a CPU.",
                                 choices=("auto", "float16", "bfloat16", "float32"))
  xla: str = setting("auto", "XLA-compile the train step; auto = on a GPU only.", choices=("auto", "on", "off"))
  strategy: str = setting(
      "auto", "tf.distribute strategy; auto = multi_worker if TF_CONFIG is set or in a SLURM job step with several "
      "tasks (srun -n N), else mirrored with 2+ GPUs, else one device.",
      choices=("auto", "one_device", "mirrored", "multi_worker"))
  peer_timeout: int = setting(300, "Multi-worker: seconds to wait for every worker to join before stopping with an "
                              "error; a worker silent for this long (at most 30 s) is taken for dead.", lower=1,
                              resumable=True)
  slurm_port: int = setting(8888, "Multi-worker under SLURM: the port of a node's first task (the next tasks take the "
                            "next ports).", lower=1, upper=65535, resumable=True)
  model_dir: str = setting(
      "", "Where checkpoints, logs and the model go; default runs/<dataset>-<backbone>-<size>px. Rerunning with the "
      "same settings resumes an interrupted run.", path=True, resumable=True, in_hparams=False, per_run=True)
  profile_steps: tuple[int, int] | None = setting(
      None, "Train steps to profile for TensorBoard's Profile tab, counted over the whole run from 0: first,last "
      "(e.g. 5,10), 0,0 = off, or auto = a few steps early in epoch 2 (the cache is warm then), once per run.",
      flag_text="auto", resumable=True, cpu_sized=(0, 0))  # (first, last) train step of the run; (0, 0) off; None auto
  steps_per_epoch: int = setting(0, "Updates per epoch; 0 = one pass over the training splits.", lower=0, quick=4,
                                 cpu_sized=20)
  validation_steps: int = setting(0, "0 = the whole validation split.", lower=0, resumable=True, quick=2)
  seed: int = setting(42, "Seed for weights, data order and augmentation.", lower=0, upper=2**31 - 1, per_seed=True)
  deterministic: bool = setting(False, "Bit-exact repeatable runs: deterministic ops and data order (slower; turns "
                                "XLA off).")
  saved_model: bool = setting(True, "Also export a TF SavedModel for serving (about 30 s for EfficientNetB3 on a "
                              "CPU).", resumable=True)
  from_best_model: bool = setting(False, "Only for a run whose backups are all damaged: continue from its best.keras "
                                  "with a fresh optimizer state, after the best epoch (the later ones are trained "
                                  "again; recorded in config.json). One process only.", resumable=True,
                                  in_hparams=False)

  def __post_init__(self):
    if self.pretrained and self.warmup_epochs > self.epochs:
      raise TrainerError(f"--warmup_epochs must be between 0 and --epochs ({self.epochs}).")

  @property
  def pretrained(self) -> bool:
    """Whether the backbone starts from trained weights (then a run warms the new head up first)."""
    return self.weights != "none"

  @property
  def effective_batch_size(self) -> int:
    """Images per weight update: --batch_size times --accumulation_steps."""
    return self.batch_size * self.accumulation_steps

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


def settings() -> dict[str, Setting]:
  """{field name: its Setting}, in the order the fields are defined."""
  return {field.name: field.metadata["setting"] for field in dataclasses.fields(TrainConfig)}


def names_where(role: str) -> tuple[str, ...]:
  """The fields with a boolean role set (e.g. "resumable", "per_run", "recipe_feature"), in order."""
  return tuple(name for name, s in settings().items() if getattr(s, role))


def values_of(role: str) -> dict[str, Any]:
  """{field: value} of a valued role ("quick", "cpu_sized") for the fields that have it."""
  return {name: getattr(s, role) for name, s in settings().items() if getattr(s, role) is not UNSET}


def flag_text(name: str, value) -> str:
  """A field's value as its flag is typed: lists with commas, profile steps as first,last or auto."""
  if name == "profile_steps":
    return "auto" if value is None else f"{value[0]},{value[1]}"
  if isinstance(value, (tuple, list)):
    return ",".join(map(str, value))
  return str(value)


def command_line(config: TrainConfig) -> list[str]:
  """`python -m trainer` with the flags that give `config`: every field that differs from its default."""
  defaults = TrainConfig()
  arguments = []
  for name in settings():
    value = getattr(config, name)
    if value == getattr(defaults, name) or value is None:
      continue
    arguments.append(f"--{name}" if value is True else f"--no{name}" if value is False
                     else f"--{name}={flag_text(name, value)}")
  return ["python", "-m", "trainer", *arguments]


def shell_command(config: TrainConfig) -> str:
  """command_line as one line a shell takes."""
  return shlex.join(command_line(config))


def default_folder(config: TrainConfig, kind: str = "", size: int | None = None) -> str:
  """runs/[<kind>-]<dataset>-<backbone>[-<size>px]: where a run (or a tool's runs) go unless told."""
  parts = [kind, dataset_label(config.dataset), config.backbone, f"{size}px" if size else ""]
  return os.path.join("runs", "-".join(part for part in parts if part))


def dataset_label(dataset: str) -> str:
  """'cnmc-real' for cnmc/real; a prepared dataset's folder (<data_dir>/cnmc/<config>/<version>) by its
  name and config too. For folder names such as runs/<label>-<backbone>."""
  if os.path.isdir(dataset):
    return "-".join(dataset.rstrip("/").split("/")[-3:-1])
  return dataset.replace("/", "-")
