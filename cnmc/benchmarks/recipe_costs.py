"""What each recipe feature costs per train step (see tools/bench_recipe.py).

Every variant is the shipped classifier compiled as the trainer compiles it (this device's precision and
XLA defaults), training on one fixed batch repeated, so only the step differs. Variants take turns, round
after round, each round starting with the next variant, and each round's time is divided by the plain
model's time of the same round: a busy machine slows the neighbours of a round alike, and the median of
those ratios is the cost. The warm-up variant computes exactly what the plain one does (only its learning
rate differs): its ratio is the noise floor of the measurement.
"""

import statistics

import numpy as np

VARIANTS = {  # name: the settings changed from the plain run (their changes of the trainer's settings)
    "plain": {},
    "ema": dict(ema_decay=0.999),
    "label_smoothing": dict(label_smoothing=0.1),
    "warmup": dict(warmup_steps=100),
    "clipping": dict(clipnorm=1.0),
    "accumulation": dict(accumulation_steps=2),
    "mixup": dict(mixup_alpha=0.2),
    "cutmix": dict(cutmix_alpha=1.0),
}
VARIANTS["all"] = {name: value for changes in VARIANTS.values() for name, value in changes.items()}


def _compiled(backbone_name: str, size: int, changes: dict, xla: bool):
  import dataclasses

  import keras
  from trainer import backbones, recipe
  from trainer.config import TrainConfig
  from trainer.metrics import training_metrics
  from trainer.model import build_classifier, train_step_for
  config = dataclasses.replace(TrainConfig(), augmentation="cells", seed=0, **changes)
  keras.utils.set_random_seed(0)
  classifier, _ = build_classifier(backbones.get_backbone(backbone_name), size, None, 0.3, seed=0)
  model = train_step_for(classifier, config)
  model.compile(optimizer=recipe.optimizer("adam", 1e-4, "cosine", 10_000, config.warmup_steps, config.clipnorm,
                                           config.ema_decay),
                loss=keras.losses.BinaryCrossentropy(), metrics=training_metrics(), jit_compile=xla)
  return model


def measure(backbone_name: str, size: int, batch: int, steps: int, rounds: int, variants=tuple(VARIANTS),
            progress=print) -> dict:
  """{variant: {"ms_per_step", "vs_plain"}} for the named variants (plain among them): the median step time
  over rounds, and the median over rounds of its ratio to the plain step of the same round."""
  import keras
  import tensorflow as tf
  from trainer import runtime
  from trainer.callbacks import ThroughputAndLearningRate
  decided = runtime.decide("auto", "auto", "one_device", deterministic=False)
  keras.mixed_precision.set_global_policy(decided.precision)
  data = np.random.default_rng(0)
  images = data.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
  labels = data.integers(0, 2, (batch,)).astype(np.int32)
  dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
  models = {}
  for name in variants:
    progress(f"building and tracing {name} ...")
    models[name] = _compiled(backbone_name, size, VARIANTS[name], decided.xla)
    models[name].fit(dataset, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)  # traces (compiles) the step
  seconds = {name: [] for name in variants}
  names = list(models)
  for round_number in range(rounds):
    progress(f"round {round_number + 1} of {rounds}")
    start = round_number % len(names)  # each round starts with another variant: no place in the order is favoured
    for name in names[start:] + names[:start]:
      model = models[name]
      timer = ThroughputAndLearningRate(batch)  # the epoch's steps, without fit's own set-up
      history = model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False, callbacks=[timer]).history
      seconds[name].append(history["train_seconds"][0] / steps)
  plain = seconds["plain"]
  return {"settings": {"backbone": backbone_name, "image_size": size, "batch_size": batch, "steps": steps,
                       "rounds": rounds, "precision": decided.precision, "xla": decided.xla},
          "variants": {name: {"ms_per_step": 1000 * statistics.median(times),
                              "vs_plain": statistics.median(t / p for t, p in zip(times, plain, strict=True))}
                       for name, times in seconds.items()}}
