"""A phase's optimizer: its learning-rate schedule with a linear warm-up, gradient clipping to a global
norm and a moving average of the weights (Keras 3's own `global_clipnorm` and `use_ema`).

The schedule counts train steps, each one update (with --accumulation_steps, the micro-batches of one step
are accumulated inside it: trainer/model.py). The optimizer's variables (step, moments, averages) are in
every backup, so a resumed run continues the same schedule.
"""

import keras

from trainer.errors import TrainerError


def learning_rate_schedule(peak: float, schedule: str, steps: int, warmup_steps: int = 0):
  """The phase's learning rate over its `steps`: linear from 0 to `peak` over `warmup_steps` (at most
  steps - 1), then cosine decay to 0 or constant at `peak`. A float when it is constant throughout."""
  warmup = min(warmup_steps, max(0, steps - 1))
  if not warmup:
    return keras.optimizers.schedules.CosineDecay(peak, max(1, steps)) if schedule == "cosine" else peak
  alpha = 0.0 if schedule == "cosine" else 1.0  # alpha 1: the "decay" keeps the peak
  return keras.optimizers.schedules.CosineDecay(0.0, max(1, steps - warmup), alpha=alpha, warmup_target=peak,
                                                warmup_steps=warmup)


def optimizer(name: str, peak: float, schedule: str, steps: int, warmup_steps: int = 0, clipnorm: float = 0.0,
              ema_decay: float = 0.0) -> keras.optimizers.Optimizer:
  """adam, adamw or sgd (momentum 0.9) for a phase of `steps` updates; clipnorm 0 and ema_decay 0 turn those
  off.

  With ema_decay the optimizer keeps the averages of the weights it trains, moved by ema_decay at every
  update (inside the train step; trainer/averaging.py puts them into the model where they are used).
  """
  options = dict(global_clipnorm=clipnorm or None)
  if ema_decay:
    options.update(use_ema=True, ema_momentum=ema_decay)
  rate = learning_rate_schedule(peak, schedule, steps, warmup_steps)
  if name == "sgd":
    chosen = keras.optimizers.SGD(rate, momentum=0.9, **options)
  elif name == "adamw":
    chosen = keras.optimizers.AdamW(rate, **options)
  else:
    chosen = keras.optimizers.Adam(rate, **options)
  if ema_decay:
    # fit ends by copying the averages into the model; here training goes on from the raw weights in the
    # next phase, as a resumed run does (its backup restores them), and the averages are put in where used.
    chosen.finalize_variable_values = lambda var_list: None
  return chosen


def check_accumulation(batch_size: int, accumulation_steps: int, replicas: int) -> None:
  """Each replica splits its share of the batch into accumulation_steps equal micro-batches."""
  if accumulation_steps > 1 and batch_size % replicas:
    raise TrainerError(f"--accumulation_steps={accumulation_steps} needs a --batch_size that divides evenly among "
                       f"the {replicas} replicas (--batch_size={batch_size}): pass a multiple of {replicas}.")


def compared_recipes(batch_size: int, steps_per_epoch: int) -> dict[str, tuple[str, dict]]:
  """What tools.compare_recipe trains: {run name: (row label, the settings it changes from the plain run)}, for
  the plain run's batch and steps per epoch (0: a whole pass).

  Accumulation makes each update of two micro-batches of half the batch: the same images per update and per
  epoch as the plain run, in half the memory. Warm-up lasts the first epoch (50 steps when an epoch is a
  whole pass of unknown length).
  """
  steps = steps_per_epoch
  accumulation = dict(accumulation_steps=2, batch_size=max(1, batch_size // 2))
  features = {
      "ema": ("+ EMA 0.99", dict(ema_decay=0.99)),
      "label_smoothing": ("+ label smoothing 0.1", dict(label_smoothing=0.1)),
      "warmup": ("+ warm-up (1 epoch)", dict(warmup_steps=steps or 50)),
      "clipping": ("+ clipping to norm 1", dict(clipnorm=1.0)),
      "accumulation": ("+ accumulation 2 x half batch", accumulation),
      "mixup": ("+ mixup 0.2", dict(mixup_alpha=0.2)),
      "cutmix": ("+ cutmix 1.0", dict(cutmix_alpha=1.0)),
  }
  everything = {name: value for _, changes in features.values() for name, value in changes.items()}
  return {"plain": ("plain", {}), **features, "all": ("all together", everything)}
