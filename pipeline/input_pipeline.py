"""TFDS splits of `cnmc` -> batches of uint8 images and int32 labels, fast enough to never starve.

  train = make_train_dataset(builder, "fold_0+fold_1+fold_2", image_size=300, batch_size=32)
  model.fit(train.dataset, steps_per_epoch=train.steps_per_epoch)

Images are decoded and resized once, to the model's input size, and cached; every epoch after the
first reads the cache and decodes nothing. They leave the host as uint8 (a quarter of float32's
bytes); conversion, augmentation and normalisation happen on the device, inside the train step.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from cnmc_tfds.vocabulary import ALL, HEM, IMAGE_SIZE as STORED_SIZE, TRAIN_SPLIT, VALIDATION_SPLIT
from pipeline import file_cache

_RECORDS_PER_READ = 4096  # metadata-only passes (labels, ids) read this many records per batch
BALANCE_MODES = ("oversample", "class_weight", "none")
_AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass(frozen=True)
class TrainInput:
  """What `model.fit` needs from the input side."""
  dataset: tf.data.Dataset  # infinite: (images (B, S, S, 3) uint8, labels (B,) int32)
  steps_per_epoch: int  # one pass over the split's images
  class_counts: dict[int, int]  # label -> number of images in the split
  class_weight: dict[int, float] | None  # balance="class_weight": the loss weight each batch carries per label


def resize_cells(image: tf.Tensor, image_size: int) -> tf.Tensor:
  """(..., 450, 450, 3) uint8 -> (..., S, S, 3) uint8, as every input path of the project resizes."""
  if image_size == STORED_SIZE:
    return image
  # "area" averages the source pixels under each target pixel: alias-free when shrinking, and
  # half the cost of bilinear with antialias (measured in BUILD.md).
  method = "area" if image_size < STORED_SIZE else "bilinear"
  image = tf.image.resize(image, (image_size, image_size), method=method)
  return tf.cast(tf.round(tf.clip_by_value(image, 0, 255)), tf.uint8)


def decode_and_resize(image_size: int):
  """Op factory: {"image": PNG bytes, "label", ...} -> {"image": (S, S, 3) uint8, "label": int32, ...}."""
  def op(example: dict) -> dict:
    image = tf.io.decode_png(example["image"], channels=3)
    image.set_shape((STORED_SIZE, STORED_SIZE, 3))  # the builder guarantees it
    return {**example, "image": resize_cells(image, image_size), "label": tf.cast(example["label"], tf.int32)}
  return op


def to_supervised(batch: dict) -> tuple[tf.Tensor, tf.Tensor]:
  return batch["image"], batch["label"]


def _options(deterministic: bool, sharded: bool) -> tf.data.Options:
  options = tf.data.Options()
  options.deterministic = deterministic  # out-of-order elements keep parallel maps busy
  options.autotune.enabled = True
  # Half the machine's RAM for autotuned buffers: the cache itself is not counted against it.
  options.autotune.ram_budget = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
  options.experimental_optimization.map_parallelization = True
  # A worker's training input is its own share already; any other input (validation) that a strategy
  # distributes is shared by example: sharding by files fails when a split has fewer files than workers.
  options.experimental_distribute.auto_shard_policy = (tf.data.experimental.AutoShardPolicy.OFF if sharded
                                                       else tf.data.experimental.AutoShardPolicy.DATA)
  return options


def _read(builder, split: str, *, shuffle_files: bool, seed: int | None,
          input_context: tf.distribute.InputContext | None, metadata: tuple[str, ...] = (),
          exclude: frozenset[str] = frozenset()) -> tf.data.Dataset:
  """The split's records as {"image": PNG bytes, "label", *metadata}; TFDS' own image decode is skipped.
  Records whose file_name is in `exclude` are left out (before anything is decoded).

  With an input_context of several input pipelines (workers), this pipeline reads an even share of
  the split's examples (TFDS' sharding by files needs a file per worker and gives uneven shares)."""
  if input_context is not None and input_context.num_input_pipelines > 1:
    split = tfds.even_splits(split, input_context.num_input_pipelines)[input_context.input_pipeline_id]
    input_context = None
  read_config = tfds.ReadConfig(
      shuffle_seed=seed, input_context=input_context,
      shuffle_reshuffle_each_iteration=seed is None,  # seeded: the same file order for every iterator
      try_autocache=False,  # we cache decoded, resized images ourselves
      skip_prefetch=True, num_parallel_calls_for_interleave_files=_AUTOTUNE,
      interleave_cycle_length=_AUTOTUNE)
  dataset = builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=read_config,
                               decoders={"image": tfds.decode.SkipDecoding()})
  if exclude:
    names = tf.constant(sorted(exclude))
    excluded = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(names, tf.ones_like(names, tf.int32)), 0)
    dataset = dataset.filter(lambda ex: excluded.lookup(ex["file_name"]) == 0)
  return dataset.map(lambda ex: {key: ex[key] for key in ("image", "label", *metadata)})


def _cache(dataset: tf.data.Dataset, cache: str | None, builder, split: str, image_size: int,
           stream: str) -> tf.data.Dataset:
  """cache: "memory", a file-path prefix (for sets larger than RAM; named by what it holds), or None."""
  if cache is None:
    return dataset
  if cache == "memory":
    return dataset.cache()
  prefix = file_cache.cache_prefix(cache, builder, split, image_size, stream)
  return dataset.cache(prefix) if file_cache.claim(prefix) else dataset


@dataclasses.dataclass(frozen=True)
class SplitIndex:
  """Every record of a split, in its order: label, subject id and file name (no image decoded)."""
  labels: np.ndarray  # (N,) int
  subjects: np.ndarray  # (N,) str
  files: np.ndarray  # (N,) str

  def without(self, exclude: frozenset[str]) -> "SplitIndex":
    """The records whose file name is not in exclude."""
    if not exclude:
      return self
    kept = ~np.isin(self.files, sorted(exclude))
    return SplitIndex(self.labels[kept], self.subjects[kept], self.files[kept])

  def label_counts(self) -> dict[int, int]:
    counts = np.bincount(self.labels, minlength=2)
    return {HEM: int(counts[HEM]), ALL: int(counts[ALL])}

  def subject_set(self) -> set[str]:
    return set(self.subjects.tolist())

  def file_set(self) -> set[str]:
    return set(self.files.tolist())


def split_index(builder, split: str) -> SplitIndex:
  """One pass over the split's records (their image bytes are read, never decoded); an empty slice is empty."""
  if not builder.info.splits[split].num_examples:
    return SplitIndex(np.zeros(0, np.int64), np.zeros(0, str), np.zeros(0, str))
  rows = _read(builder, split, shuffle_files=False, seed=None, input_context=None, metadata=("subject_id", "file_name"))
  rows = rows.map(lambda ex: (ex["label"], ex["subject_id"], ex["file_name"]),
                  num_parallel_calls=_AUTOTUNE).batch(_RECORDS_PER_READ)
  labels, subjects, files = [np.zeros(0, np.int64)], [np.zeros(0, str)], [np.zeros(0, str)]
  for label, subject_ids, file_names in rows:
    labels.append(label.numpy().astype(np.int64))
    subjects.append(np.array([s.decode() for s in subject_ids.numpy()], dtype=str))
    files.append(np.array([f.decode() for f in file_names.numpy()], dtype=str))
  return SplitIndex(np.concatenate(labels), np.concatenate(subjects), np.concatenate(files))


def count_labels(builder, split: str, exclude: frozenset[str] = frozenset()) -> dict[int, int]:
  """label -> number of examples (those in `exclude` left out)."""
  return split_index(builder, split).without(exclude).label_counts()


def subjects_and_files(builder, split: str, exclude: frozenset[str] = frozenset()) -> tuple[set[str], set[str]]:
  """The subject ids and file names in a split (those in `exclude` left out)."""
  index = split_index(builder, split).without(exclude)
  return index.subject_set(), index.file_set()


def class_weights(counts: dict[int, int]) -> dict[int, float]:
  """Weights that make each class contribute equally to the loss: n / (2 * n_class)."""
  if min(counts.values()) == 0:
    raise ValueError(f"class weights need images of both classes, got counts {counts}")
  total = sum(counts.values())
  return {label: total / (len(counts) * n) for label, n in counts.items()}


_MAX_INT32 = 2**31 - 1  # TensorFlow reduces seeds modulo this


def _shuffled_passes(dataset: tf.data.Dataset, buffer: int, seed: int | None) -> tf.data.Dataset:
  """Endless passes over `dataset`, each in a new random order.

  With a seed, pass k's order is a pure function of (seed, k). `shuffle(reshuffle_each_iteration=True)`
  would draw each pass's seed from a generator shared by every iterator of the dataset, and Keras'
  fit reads one batch from a first iterator (to build the model) before starting another: how far
  that first one's background prefetch got, a matter of timing, would shift every later order.
  """
  if seed is None:
    return dataset.shuffle(buffer, reshuffle_each_iteration=True).repeat()

  def one_pass(k):
    graph = tf.compat.v1.get_default_graph()  # flat_map's function graph, seeded from the global seed
    if graph.seed is not None and graph.seed % _MAX_INT32 == 0:
      # TensorFlow compares (global seed, op seed) with (0, 0), which fails for an op seed that is a tensor in a
      # graph: a process whose global seed is 0 (keras.utils.set_random_seed(0), --seed=0) could not shuffle.
      graph.seed = _MAX_INT32 - 1
    return dataset.shuffle(buffer, seed=seed * 1_000_003 + k, reshuffle_each_iteration=False)

  return tf.data.Dataset.counter().flat_map(one_pass)


def make_train_dataset(builder, split: str = TRAIN_SPLIT, *, image_size: int, batch_size: int,
                       balance: str = "oversample", cache: str | None = "memory",
                       shuffle_buffer: int = 2048, seed: int | None = None, deterministic: bool = False,
                       input_context: tf.distribute.InputContext | None = None,
                       class_counts: dict[int, int] | None = None, skip_batches: int = 0,
                       exclude: frozenset[str] = frozenset()) -> TrainInput:
  """The training input: decoded once, cached, shuffled, repeated, batched, prefetched.

  Args:
    builder: a prepared `cnmc` TFDS builder.
    split: a TFDS split expression, e.g. "fold_0+fold_1".
    image_size: S, the side of the square images the model takes.
    batch_size: the global batch; with an input_context each replica's pipeline gets its share.
    balance: "oversample" draws HEM and ALL with equal probability (each class has its own cache),
      "class_weight" keeps the natural stream and adds each example's loss weight to the batches,
      (images, labels, weights), which works under any tf.distribute strategy; "none" neither.
    cache: "memory", a file path prefix (named further by what it holds), or None.
    shuffle_buffer: examples in the shuffle buffer of each stream.
    seed: makes every pass's order a function of (seed, pass); None: random.
    deterministic: keep tf.data's element order fixed (parallel maps wait for stragglers).
    input_context: this worker's share under a tf.distribute strategy.
    class_counts: the split's label counts if the caller has them (saves a pass over the records).
    skip_batches: start the stream after this many batches (a resumed run continues where it stopped).
    exclude: file names never trained on (tools.audit's suspects); class_counts must leave them out too.
  Returns:
    TrainInput: an endless dataset of ((B, S, S, 3) uint8, (B,) int32[, (B,) float32 weights]) and
    the steps of one pass.
  Raises:
    ValueError: an unknown balance, or balancing a split without both classes.
  """
  if balance not in BALANCE_MODES:
    raise ValueError(f"balance must be one of {BALANCE_MODES}, got {balance!r}.")
  counts = class_counts or count_labels(builder, split, exclude)
  if balance == "oversample" and min(counts.values()) == 0:  # drawing from an empty stream never returns
    raise ValueError(f"oversampling needs images of both classes; {split} has {counts}")
  local_batch = input_context.get_per_replica_batch_size(batch_size) if input_context else batch_size
  decode = decode_and_resize(image_size)

  def stream(label: int | None) -> tf.data.Dataset:
    dataset = _read(builder, split, shuffle_files=True, seed=seed, input_context=input_context, exclude=exclude)
    if label is not None:  # before decoding: the other class's images are never decoded here
      dataset = dataset.filter(lambda ex: ex["label"] == label)
    dataset = dataset.map(decode, num_parallel_calls=_AUTOTUNE)
    name = ("all" if label is None else f"class{label}") + (
        f"-input{input_context.input_pipeline_id}of{input_context.num_input_pipelines}" if input_context else "")
    dataset = _cache(dataset, cache, builder, split, image_size, name)
    return _shuffled_passes(dataset, shuffle_buffer, seed)

  if balance == "oversample":
    dataset = tf.data.Dataset.sample_from_datasets([stream(HEM), stream(ALL)], weights=[0.5, 0.5], seed=seed)
  else:
    dataset = stream(None)
  if skip_batches:  # examples, not batches: nothing is batched only to be dropped
    dataset = dataset.skip(skip_batches * local_batch)
  dataset = dataset.batch(local_batch, drop_remainder=True).map(to_supervised)
  weights = class_weights(counts) if balance == "class_weight" else None
  if weights:
    table = tf.constant([weights[HEM], weights[ALL]], tf.float32)
    dataset = dataset.map(lambda images, labels: (images, labels, tf.gather(table, labels)))
  dataset = dataset.prefetch(_AUTOTUNE)
  dataset = dataset.with_options(_options(deterministic, sharded=input_context is not None))
  return TrainInput(dataset=dataset, steps_per_epoch=batches_per_pass(counts, batch_size),
                    class_counts=counts, class_weight=weights)


def batches_per_pass(counts: dict[int, int], batch_size: int) -> int:
  """Whole batches in one pass over a split of these label counts (at least one)."""
  return max(1, sum(counts.values()) // batch_size)


def make_eval_dataset(builder, split: str = VALIDATION_SPLIT, *, image_size: int, batch_size: int,
                      cache: str | None = "memory", metadata: tuple[str, ...] = (),
                      max_batches: int | None = None) -> tf.data.Dataset:
  """The evaluation input, in the split's order, every example once.

  Args:
    builder, split, image_size, batch_size, cache: as for make_train_dataset.
    metadata: feature names to keep (e.g. "subject_id", "file_name"); with any, the batches are dicts
      {"image", "label", *metadata} instead of (images, labels) pairs.
    max_batches: only the first this many batches, cut before the cache, so that the cache holds
      exactly what is read each time (a cache read part-way is dropped, with a warning, every pass).
  Returns:
    A finite dataset of ((B, S, S, 3) uint8 images, (B,) int32 labels), or of dicts with metadata.
  """
  dataset = _read(builder, split, shuffle_files=False, seed=None, input_context=None, metadata=metadata)
  if max_batches:
    dataset = dataset.take(max_batches * batch_size)
  dataset = dataset.map(decode_and_resize(image_size), num_parallel_calls=_AUTOTUNE)
  dataset = _cache(dataset, cache, builder, split, image_size, "eval")
  dataset = dataset.batch(batch_size)
  if not metadata:
    dataset = dataset.map(to_supervised)
  return dataset.prefetch(_AUTOTUNE).with_options(_options(deterministic=True, sharded=False))
