"""One training run in --model_dir: its phases, callbacks and outputs.

  python -m trainer --backbone=effnetb3 --dataset=cnmc/synthetic

With pretrained weights a run has two phases: a warm-up that trains only the new head on the
frozen backbone, then fine-tuning of everything (BatchNorm kept frozen, with its ImageNet
statistics) at a lower, decaying learning rate. With --weights=none there is one phase.
A killed run resumes where it stopped: every finished epoch is committed to disk (see
trainer/checkpoints.py), so a kill -9 loses at most the epoch in progress.
"""

import contextlib
import dataclasses
import os
import shutil

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from cnmc_tfds.loading import load_builder
from cnmc.console import exits, terminal
from cnmc.run_folder import layout, record
from cnmc.statistics import intervals
from cnmc.storage import atomic
from trainer import averaging, checkpoints, data, profiles, recipe, run_dir, runtime as runtime_lib
from trainer.distributed import jobs, replicas
from trainer.callbacks import (AugmentedSamples, ConfusionMatrixPicture, EpochProgress, EpochSummaries, ProfileSteps,
                               ThroughputAndLearningRate)
from trainer.config import TrainConfig
from trainer.metrics import WeightedF1, training_metrics
from trainer.hparams import write_hparams
from trainer.progress import Progress
from trainer.model import TrainStep, build_classifier, freeze_backbone, train_step_for, unfreeze_backbone
from trainer.plan import Plan, make_plan, record_continuation, write as write_plan

MONITOR = "val_weighted_f1"  # the challenge's metric picks the best checkpoint


@dataclasses.dataclass(frozen=True)
class Phase:
  name: str
  first_epoch: int
  end_epoch: int  # exclusive
  learning_rate: float
  schedule: str
  backbone_frozen: bool
  keep_batchnorm_frozen: bool


def plan_phases(config: TrainConfig) -> list[Phase]:
  if not config.pretrained:  # nothing to protect from a random head: train everything from the start
    return [Phase("train", 0, config.epochs, config.learning_rate, config.lr_schedule, False, False)]
  phases = []
  if config.warmup_epochs:
    phases.append(Phase("warmup", 0, config.warmup_epochs, config.learning_rate, "constant", True, False))
  if config.epochs > config.warmup_epochs:
    phases.append(Phase("fine_tune", config.warmup_epochs, config.epochs, config.fine_tune_learning_rate,
                        config.lr_schedule, False, True))
  return phases


def _callbacks(phase: Phase, plan: Plan, model_dir: str, model, metrics, samples, commit, extra) -> list:
  config, logs = plan.config, os.path.join(model_dir, layout.LOGS_DIR)
  confusion = next(m for m in metrics if isinstance(m, WeightedF1))
  callbacks = [
      checkpoints.StopOnNonFiniteLoss(phase.name),  # first: a diverged epoch must never be committed
      checkpoints.EpochSeeds(),  # before anything draws in the epoch
      *([averaging.ValidateAveraged(averaging.AveragedWeights(model))] if config.ema_decay else []),
      *([replicas.AverageBatchNormStatistics(plan.strategy)] if plan.strategy.num_replicas_in_sync > 1 else []),
      ThroughputAndLearningRate(config.effective_batch_size),
      ConfusionMatrixPicture(confusion, logs, os.path.join(model_dir, "confusion_matrix.png"),
                             commit.state.best["value"] if commit.state.best else None, MONITOR),
      EpochSummaries(logs, write_graph=False, profile_batch=0),
  ]
  if plan.profile and not profiles.has_profile(model_dir):  # once per run, resumed or not
    callbacks.append(ProfileSteps(os.path.join(logs, "train"), *plan.profile, steps_per_epoch=plan.steps_per_epoch))
  if samples is not None:
    callbacks.append(AugmentedSamples(*samples, model.augmentation, model.mixing, logs,
                                      os.path.join(model_dir, "augmented_samples.png")))
  return callbacks + [commit] + list(extra) + [EpochProgress(config.epochs)]  # last, as Keras' own would be


def _export(model: keras.Model, model_dir: str, saved_model: bool) -> None:
  """model.keras and saved_model/, each appearing complete or not at all."""
  with atomic.atomic_path(os.path.join(model_dir, layout.FINAL_MODEL), suffix=".keras") as temporary:
    model.save(temporary)
  if saved_model:
    target = os.path.join(model_dir, layout.SAVED_MODEL)
    scratch = f"{target}.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    atomic.recover_dir(target)
    images = tf.TensorSpec((None, *model.input_shape[1:]), tf.uint8, name="image")  # serves the pipeline's uint8
    model.export(scratch, format="tf_saved_model", verbose=False, input_signature=[images])
    atomic.replace_dir(scratch, target)


def run(config: TrainConfig, extra_callbacks=(), builder=None, setup: run_dir.Setup | None = None) -> dict:
  """Trains as configured, resuming whatever the run folder holds.

  Args:
    config: the run's settings (what the flags resolve to).
    extra_callbacks: more Keras callbacks for every phase (tests use them to kill or record).
    builder: an already-built TFDS builder to use instead of config.dataset (tools and tests pass
      custom synthetic configs this way).
    setup: what run_dir.preflight(config) resolved, if the caller ran it already.
  Returns:
    The results also written to <model_dir>/results.json: best epoch and score, model paths ({} on a
    worker other than the chief of a multi-worker job).
  Raises:
    TrainerError: a user's mistake (flags, folder, splits, weights, cluster), a diverged loss, or a
      lost peer in a multi-worker job.
    DatasetError: a dataset that is missing or damaged.
    console.exits.Stopped: Ctrl-C or SIGTERM, with what is kept and the command that resumes.
  """
  setup = setup or run_dir.preflight(config)
  job = jobs.job_for(setup.model_dir, setup.role)
  progress = Progress(config.epochs, setup.model_dir)
  policy = keras.mixed_precision.global_policy()  # the run sets its own; a caller in this process keeps its
  try:
    with job.folder() as model_dir, job.lost_peers_reported():
      return _train(config, setup, job, model_dir, progress, builder, [progress, *extra_callbacks])
  except KeyboardInterrupt as interrupt:
    raise progress.stopped(interrupt, run_dir.resume_command(config)) from None
  except RuntimeError as error:
    interrupt = exits.disguised_interrupt(error)
    if interrupt is None:
      raise
    raise progress.stopped(interrupt, run_dir.resume_command(config)) from None
  finally:
    keras.mixed_precision.set_global_policy(policy)


def _train(config: TrainConfig, setup: run_dir.Setup, job: jobs.SingleProcess, model_dir: str, progress: Progress,
           builder, extra_callbacks: list) -> dict:
  """The run, writing into model_dir; `job` says what differs when several processes run it."""
  planned = run_dir.check_model_dir(config, model_dir)  # again, now that this run holds the folder's lock
  keras.utils.set_random_seed(config.seed)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  runtime = runtime_lib.decide(config.mixed_precision, config.xla, config.strategy, config.deterministic, setup.role,
                               config.peer_timeout, config.slurm_port)
  print(runtime.summary(), flush=True)
  strategy = runtime.strategy
  finished = job.finished(model_dir, strategy)
  if finished is not None:
    print(f"{setup.model_dir} holds a finished run; nothing to do (pass a new --model_dir to train again).")
    return finished
  keras.mixed_precision.set_global_policy(runtime.precision)
  if planned is not None:
    print(f"--epochs={config.epochs}: this run was planned for {planned} epochs; it now ends after epoch "
          f"{config.epochs}, and the learning-rate schedule of the phase it resumes in is planned anew to end "
          "there.", flush=True)

  # The data, and the plan of the run, resolved once and recorded in config.json.
  progress.at("dataset", config.dataset)
  builder = builder or load_builder(config.dataset, config.data_dir, config.manual_dir)
  progress.at("starting")
  plan = make_plan(config, setup, runtime, builder)
  steps = plan.steps_per_epoch
  train_ds = data.train_input(builder, config, plan.image_size, strategy, plan.counts, exclude=plan.excluded)
  val_ds = data.val_input(builder, config, plan.image_size)
  write_plan(plan, model_dir, builder)

  # The model, with the finished epochs' weights if the run resumes.
  state = checkpoints.load_state(model_dir)
  if not state.history:  # a fresh start: curves of an earlier start that finished no epoch would mix in
    shutil.rmtree(os.path.join(model_dir, layout.LOGS_DIR), ignore_errors=True)
  with strategy.scope():
    classifier, base = build_classifier(setup.backbone, setup.image_size, setup.weights, config.dropout,
                                        config.seed, config.input_transform)  # what best.keras and the exports hold
    model = train_step_for(classifier, config)  # the same layers, trained by the step the settings ask for
  averaged = averaging.AveragedWeights(model).held if config.ema_decay else contextlib.nullcontext
  state = job.restore(model_dir, state, model, strategy, with_optimizer=False,  # an older backup if the newest is bad
                      from_best=config.from_best_model)
  if config.from_best_model and state.history and not state.weights:  # every backup was damaged: from best.keras
    record_continuation(model_dir, len(state.history))
  if state.weights:
    print(f"Resuming {setup.model_dir} after epoch {state.completed_epochs}.", flush=True)
  samples = (data.sample_images(builder, config, plan.image_size)
             if (model.augmentation or model.mixing) and not state.history else None)

  # The phases: each its own compile and fit, every epoch committed as it ends.
  phases = plan_phases(config)
  for phase in phases:
    if state.completed_epochs >= phase.end_epoch:
      continue
    _print_phase(phase, state.completed_epochs, config)
    metrics, state = _compile(model, base, phase, plan, job, model_dir, state)
    commit = checkpoints.EpochCommit(model_dir, state, MONITOR, classifier, averaged)
    done_in_phase = state.completed_epochs - phase.first_epoch
    phase_ds = (train_ds if done_in_phase <= 0 else  # a resumed phase continues its stream where it stopped
                data.train_input(builder, config, plan.image_size, strategy, plan.counts, done_in_phase * steps,
                                 plan.excluded))
    model.fit(phase_ds, initial_epoch=max(phase.first_epoch, state.completed_epochs), epochs=phase.end_epoch,
              steps_per_epoch=steps, validation_data=val_ds,
              shuffle=False,  # the pipeline shuffles
              callbacks=_callbacks(phase, plan, model_dir, model, metrics, samples, commit, extra_callbacks),
              verbose=terminal.keras_verbosity())  # a log file gets one plain line per epoch
    state, samples = commit.state, None
  if config.ema_decay and not model.compiled:  # resumed after the last epoch: its averages are in the backup
    _, state = _compile(model, base, phases[-1], plan, job, model_dir, state)

  # The end: the final model exported, the results recorded last (they mark the run finished).
  progress.at("exporting")
  with averaged():
    job.check_final_weights(strategy, model)
    _export(classifier, model_dir, config.saved_model)
  best = state.best
  found = _best_intervals(builder, plan, model_dir) if best else None
  interval = found and found.get("weighted_f1", found)  # or why there is none
  results = {"best_epoch": best["epoch"] + 1 if best else None,
             "best_val_weighted_f1": best["value"] if best else None,
             "best_val_weighted_f1_interval": interval,
             "best_val_intervals": found,  # every score of best.keras on those cells, with its interval
             "best_model": os.path.join(model_dir, layout.BEST_MODEL),
             "final_model": os.path.join(model_dir, layout.FINAL_MODEL),
             "saved_model": os.path.join(model_dir, layout.SAVED_MODEL) if config.saved_model else None}
  resolved = dataclasses.replace(config, profile_steps=plan.profile or (0, 0))  # the steps profiled, not "auto"
  write_hparams(os.path.join(model_dir, layout.LOGS_DIR), resolved, runtime.to_json(),
                state.history[best["epoch"]] if best else None)
  record.write_results(model_dir, results)
  checkpoints.drop_backup_weights(model_dir)  # the finished model is in model.keras now
  return job.report(results, lambda: _print_summary(plan, model_dir, state, interval))


def _compile(model: TrainStep, base: keras.Model, phase: Phase, plan: Plan, job: jobs.SingleProcess, model_dir: str,
             state: checkpoints.RunState):
  """The model compiled for `phase`, with the phase's optimizer state restored if the run resumes inside it.
  Returns (its metrics, the state restored)."""
  config, steps, strategy = plan.config, plan.steps_per_epoch, plan.strategy
  with strategy.scope():
    (freeze_backbone(base) if phase.backbone_frozen else unfreeze_backbone(base, phase.keep_batchnorm_frozen))
    metrics = training_metrics()
    model.compile(optimizer=recipe.optimizer(config.optimizer, phase.learning_rate, phase.schedule,
                                             steps * (phase.end_epoch - phase.first_epoch), config.warmup_steps,
                                             config.clipnorm, config.ema_decay),
                  loss=keras.losses.BinaryCrossentropy(), metrics=metrics, jit_compile=plan.runtime.xla)
  if state.completed_epochs > phase.first_epoch:  # inside this phase: its optimizer state too
    if not model.optimizer.built:
      with strategy.scope():  # the optimizer's variables are the strategy's too
        model.optimizer.build(model.trainable_variables)
    if state.weights:
      state = job.restore(model_dir, state, model, strategy, with_optimizer=True)
    else:  # continued from best.keras: fresh moments, but the schedule where the phase's epochs are
      model.optimizer.iterations.assign(steps * (state.completed_epochs - phase.first_epoch))
  return metrics, state


def _print_phase(phase: Phase, completed_epochs: int, config: TrainConfig) -> None:
  first = max(phase.first_epoch, completed_epochs)
  span = f"epoch {first + 1}" if first + 1 == phase.end_epoch else f"epochs {first + 1}-{phase.end_epoch}"
  warmup = f" after {config.warmup_steps} warm-up steps" if config.warmup_steps else ""
  accumulated = (f", effective batch {config.effective_batch_size} ({config.accumulation_steps} x "
                 f"{config.batch_size})" if config.accumulation_steps > 1 else "")
  print(f"Phase {phase.name}: {span} of {config.epochs}"
        + (f" (resuming after epoch {first})" if first > phase.first_epoch else "")
        + f", learning rate {phase.learning_rate:g} ({phase.schedule}{warmup}){accumulated}"
        + (", backbone frozen." if phase.backbone_frozen else "."), flush=True)


def _best_intervals(builder, plan: Plan, model_dir: str) -> dict | None:
  """The best model's validation scores (accuracy, weighted F1, AUC, sensitivity, specificity) with their 95 %
  intervals over subjects (the cells each validation pass read, resampled by subject), {"unavailable": why} with
  fewer than two subjects of a class, None without best.keras (a worker other than the chief)."""
  path = os.path.join(model_dir, layout.BEST_MODEL)
  if not os.path.exists(path):
    return None
  model = keras.saving.load_model(path, compile=False)
  labels, subjects, probabilities = [], [], []
  for batch in data.validation_cells(builder, plan.config, plan.image_size):
    probabilities.append(keras.ops.convert_to_numpy(model(batch["image"], training=False))[:, 0])
    labels.append(batch["label"].numpy())
    subjects.append(batch["subject_id"].numpy())
  try:
    return intervals.subject_intervals(np.concatenate(labels), np.concatenate(probabilities),
                                       np.concatenate(subjects))
  except intervals.TooFewSubjects as error:
    return {"unavailable": str(error)}


def _print_summary(plan: Plan, model_dir: str, state: checkpoints.RunState, interval: dict | None) -> None:
  """The end of a run in a few lines: the best score (on how many images, with its interval over subjects), the
  speed, the input wait, where to look."""
  config, best = plan.config, state.best
  spread = ("" if not interval else f", 95 % interval over subjects [{interval['low']:.3f}, {interval['high']:.3f}]"
            if "unavailable" not in interval else f", no interval over subjects ({interval['unavailable']})")
  f1 = (f"{best['value']:.4f} at epoch {best['epoch'] + 1} ({plan.validation_share()} images of {config.val_split})"
        f"{spread}" if best else "n/a")
  rate = state.history[-1].get("images_per_second") if state.history else None
  epochs = f"{config.epochs} epoch{'' if config.epochs == 1 else 's'}"
  lines = [f"Done: {config.backbone} on {config.dataset}, {epochs}; best validation weighted F1 {f1}.",
           (f"Training speed (steady state, the last epoch after its first step): {rate:.1f} images/s"
            + (" (epoch 1 also fills the input cache: longer runs are faster)." if len(state.history) == 1 else ".")
            if rate else "Training speed: not measured (epochs of fewer than "
            f"{ThroughputAndLearningRate.MIN_STEPS} steps).")]
  if profiles.has_profile(model_dir):
    try:
      profile = profiles.summarise(profiles.newest_profile(model_dir))
      lines.append(f"Profile: {profile['step_time_ms']:.0f} ms per step, {100 * profile['input_wait_share']:.1f}% "
                   "of it waiting for input.")
    except (ValueError, OSError, ImportError) as error:  # a summary is a courtesy; the profile is on disk
      logging.warning("Could not summarise the profile: %s", error)
  shown = "curves, pictures and the profile" if profiles.has_profile(model_dir) else "curves and pictures"
  lines.append(f"Outputs in {model_dir}; {shown}: tensorboard --logdir {model_dir}/logs")
  print("\n".join(line for line in lines if line))
