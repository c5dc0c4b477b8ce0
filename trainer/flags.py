"""The trainer's command-line flags (absl: --flagfile works, --helpfull lists them all)."""

from absl import flags

from cnmc.console.bounded_flags import define_fraction, define_non_negative_float, define_positive_float
from cnmc.storage import paths
from trainer import backbones
from trainer.config import AUGMENTATIONS, TrainConfig
from trainer.errors import TrainerError

_DEFAULT = TrainConfig()

flags.DEFINE_enum("backbone", _DEFAULT.backbone, backbones.names(), "The feature extractor.")
flags.DEFINE_string("weights", _DEFAULT.weights,
                    "Initial backbone weights: 'imagenet' (Keras cache ~/.keras/models/, downloaded if "
                    "missing), 'none' (random init, no warm-up phase), or the path of a notop weights file.")
flags.DEFINE_string("dataset", _DEFAULT.dataset,
                    "TFDS name/config: cnmc/synthetic (no download needed), cnmc/synthetic_full, or "
                    "cnmc/real (your download; see --manual_dir), or the folder of a prepared dataset "
                    "(<data_dir>/cnmc/<config>/<version>). Built first if it is not built yet.")
flags.DEFINE_string("data_dir", None, "TFDS data folder (default: TFDS_DATA_DIR or ~/tensorflow_datasets).")
flags.DEFINE_string("manual_dir", None, "Folder holding the C-NMC 2019 download, to build cnmc/real if needed.")
flags.DEFINE_list("train_splits", list(_DEFAULT.train_splits), "Splits to train on (subject-disjoint folds).")
flags.DEFINE_string("val_split", _DEFAULT.val_split, "Labelled split to validate on each epoch.")
flags.DEFINE_string("exclude", _DEFAULT.exclude,
                    "A file of cell names (one per line, or a CSV with a file_name column, such as tools.audit's "
                    "label_issues.csv) never to train on. Validation and scoring sets are never filtered.")
flags.DEFINE_integer("image_size", _DEFAULT.image_size,
                     "Input size in pixels; 0 = the backbone's default (effnetb3 300, inception_resnet_v2 299).",
                     lower_bound=0)
flags.DEFINE_integer("batch_size", _DEFAULT.batch_size, "Global batch size (split across replicas).",
                     lower_bound=1)
flags.DEFINE_integer("epochs", _DEFAULT.epochs, "Total epochs, warm-up included.", lower_bound=1)
flags.DEFINE_integer("warmup_epochs", _DEFAULT.warmup_epochs,
                     "Epochs training only the new head on a frozen backbone (pretrained weights only).",
                     lower_bound=0)
define_positive_float("learning_rate", _DEFAULT.learning_rate,
                      "Learning rate of the warm-up (or of the whole run with --weights=none).")
define_positive_float("fine_tune_learning_rate", _DEFAULT.fine_tune_learning_rate,
                      "Peak learning rate when the backbone is unfrozen.")
flags.DEFINE_enum("lr_schedule", _DEFAULT.lr_schedule, ["cosine", "constant"],
                  "Schedule of the main phase: cosine decay to 0, or constant.")
flags.DEFINE_enum("optimizer", _DEFAULT.optimizer, ["adam", "adamw", "sgd"], "Optimizer (sgd: momentum 0.9).")
flags.DEFINE_integer("warmup_steps", _DEFAULT.warmup_steps,
                     "Steps of linear learning-rate warm-up from 0 at the start of each phase, ahead of its "
                     "schedule; 0 = none.", lower_bound=0)
define_non_negative_float("clipnorm", _DEFAULT.clipnorm, "Clip the gradients to this global norm; 0 = no clipping.")
flags.DEFINE_integer("accumulation_steps", _DEFAULT.accumulation_steps,
                     "Average the gradients of this many batches into one update: an effective batch of "
                     "--batch_size x this, in the memory of one --batch_size.", lower_bound=1)
define_fraction("label_smoothing", _DEFAULT.label_smoothing,
                "Smooth the training loss's targets to y(1-e)+e/2; scores and the best epoch use the true labels.",
                below_one=True)
define_fraction("ema_decay", _DEFAULT.ema_decay,
                "Validate, keep as best and export the exponential moving average of the weights, with this decay "
                "per update (e.g. 0.999; an average over about 1/(1-decay) updates); 0 = off.", below_one=True)
define_non_negative_float("mixup_alpha", _DEFAULT.mixup_alpha,
                          "Mixup on the device: blend each training image with its partner in the batch by a share "
                          "drawn from Beta(alpha, alpha) (e.g. 0.2-0.4); the loss takes the mixed labels; 0 = off.")
define_non_negative_float("cutmix_alpha", _DEFAULT.cutmix_alpha,
                          "Cutmix on the device: paste a box of the partner image, of area share drawn from "
                          "Beta(alpha, alpha) (e.g. 1.0); with mixup too, each mixed batch is one or the other; "
                          "0 = off.")
define_fraction("mix_probability", _DEFAULT.mix_probability,
                "With mixup or cutmix on: the share of training batches that are mixed.")
define_fraction("dropout", _DEFAULT.dropout, "Dropout rate before the classification layer.", below_one=True)
flags.DEFINE_enum("augmentation", _DEFAULT.augmentation, list(AUGMENTATIONS),
                  "On-device augmentation: cells (any rotation, flips, stain jitter), notebook (the public "
                  "notebooks' ranges), none.")
flags.DEFINE_enum("input_transform", _DEFAULT.input_transform, ["rgb", "optical_density", "stain_normalised"],
                  "What the backbone sees, computed in the model: rgb; optical_density (-log((I+1)/256) per "
                  "channel); stain_normalised (each cell's colour mean and spread made equal). Background stays "
                  "black.")
flags.DEFINE_enum("balance", _DEFAULT.balance, ["oversample", "class_weight", "none"],
                  "Class balance: draw HEM and ALL 50/50, weight the loss, or neither.")
flags.DEFINE_enum("mixed_precision", _DEFAULT.mixed_precision, ["auto", "float16", "bfloat16", "float32"],
                  "Compute precision; auto = float16 on a GPU, float32 on a CPU.")
flags.DEFINE_enum("xla", _DEFAULT.xla, ["auto", "on", "off"], "XLA-compile the train step; auto = on a GPU only.")
flags.DEFINE_enum("strategy", _DEFAULT.strategy, ["auto", "one_device", "mirrored", "multi_worker"],
                  "tf.distribute strategy; auto = multi_worker if TF_CONFIG is set or in a SLURM job step with "
                  "several tasks (srun -n N), else mirrored with 2+ GPUs, else one device.")
flags.DEFINE_integer("peer_timeout", _DEFAULT.peer_timeout,
                     "Multi-worker: seconds to wait for every worker to join before stopping with an error; "
                     "a worker silent for this long (at most 30 s) is taken for dead.", lower_bound=1)
flags.DEFINE_integer("slurm_port", _DEFAULT.slurm_port,
                     "Multi-worker under SLURM: the port of a node's first task (the next tasks take the next "
                     "ports).", lower_bound=1, upper_bound=65535)
flags.DEFINE_string("model_dir", "",
                    "Where checkpoints, logs and the model go; default runs/<dataset>-<backbone>-<size>px. "
                    "Rerunning with the same settings resumes an interrupted run.")
flags.DEFINE_string("profile_steps", "auto",
                    "Train steps to profile for TensorBoard's Profile tab, counted over the whole run from 0: "
                    "first,last (e.g. 5,10), 0,0 = off, or auto = a few steps early in epoch 2 (the cache is "
                    "warm then), once per run.")
flags.DEFINE_integer("steps_per_epoch", _DEFAULT.steps_per_epoch, "0 = one pass over the training splits.",
                     lower_bound=0)
flags.DEFINE_integer("validation_steps", _DEFAULT.validation_steps, "0 = the whole validation split.",
                     lower_bound=0)
flags.DEFINE_integer("seed", _DEFAULT.seed, "Seed for weights, data order and augmentation.",
                     lower_bound=0, upper_bound=2**31 - 1)
flags.DEFINE_bool("deterministic", _DEFAULT.deterministic,
                  "Bit-exact repeatable runs: deterministic ops and data order (slower; turns XLA off).")
flags.DEFINE_bool("saved_model", _DEFAULT.saved_model,
                  "Also export a TF SavedModel for serving (about 30 s for EfficientNetB3 on a CPU).")
flags.DEFINE_bool("quick", False,
                  "Smoke run: 96 px, batch 8, 2 epochs (1 warm-up) of 4 steps, 2 validation steps. "
                  "Flags given explicitly still win.")

FLAGS = flags.FLAGS

QUICK = dict(image_size=96, batch_size=8, epochs=2, warmup_epochs=1, steps_per_epoch=4, validation_steps=2)


def _profile_steps(text: str) -> tuple[int, int] | None:
  if text == "auto":
    return None
  try:
    first, last = (int(part) for part in text.split(","))
  except ValueError:
    raise TrainerError(f"--profile_steps={text!r}: expected first,last (e.g. 5,10), 0,0 or auto.") from None
  if first < 0 or last < first:
    raise TrainerError(f"--profile_steps={text!r}: need 0 <= first <= last.")
  return first, last


def config_from_flags() -> TrainConfig:
  """The parsed flags as a TrainConfig (--quick fills in what was not given explicitly)."""
  values = {field: FLAGS[field].value for field in TrainConfig.__dataclass_fields__ if field in FLAGS}
  if FLAGS.quick:
    values.update({k: v for k, v in QUICK.items() if not FLAGS[k].present})
  values["train_splits"] = tuple(values["train_splits"])
  for name in ("model_dir", "data_dir", "manual_dir", "dataset", "weights", "exclude"):
    values[name] = paths.expand_path(values[name])
  values["profile_steps"] = _profile_steps(FLAGS.profile_steps)
  if values["weights"] != "none" and values["warmup_epochs"] > values["epochs"]:
    raise TrainerError(f"--warmup_epochs must be between 0 and --epochs ({values['epochs']}).")
  return TrainConfig(**values)
