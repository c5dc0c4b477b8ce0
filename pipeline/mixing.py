"""Mixup and cutmix on the accelerator, inside the (XLA-compiled) train step, after the augmentation.

Each image is mixed with its partner, the image at the mirrored position of the batch (timm's pairing),
with a share lambda ~ Beta(alpha, alpha) drawn per image: mixup blends the two images, lambda * image +
(1 - lambda) * partner; cutmix pastes a box of the partner covering about 1 - lambda of the image and
takes lambda as the share of pixels left (the box is clipped at the borders). A batch is mixed at all
with `probability`; with both on, a mixed batch is cutmix or mixup with even odds.

The loss takes soft targets that respect the per-example loss weights (--balance=class_weight): with
shares s = lambda and 1 - lambda, labels y_a, y_b and weights w_a, w_b, the example weighs
w = s w_a + (1 - s) w_b and its target is (s w_a y_a + (1 - s) w_b y_b) / w, so its loss is exactly the
share-weighted sum of the two images' weighted losses. Metrics take the hard label of the image with the
larger share, with that image's weight.
"""

import keras
import tensorflow as tf

_GAMMA_TRIES = 8  # Marsaglia-Tsang accepts a try with probability > 0.95: all 8 fail with probability < 1e-10


def log_gamma_sample(shape, alpha: float, seed) -> tf.Tensor:
  """log of Gamma(alpha, 1) draws, by Marsaglia and Tsang's method with a fixed number of tries (XLA
  compiles no gamma sampler; a draw none of whose tries is accepted takes the shape's mean). Below alpha 1,
  Gamma(alpha) = Gamma(alpha + 1) * U^(1/alpha), kept in logs: U^(1/alpha) underflows for small alpha."""
  boosted = alpha + 1.0 if alpha < 1.0 else alpha
  d = boosted - 1.0 / 3.0
  c = 1.0 / (9.0 * d) ** 0.5
  x = keras.random.normal((_GAMMA_TRIES, *shape), seed=seed)
  u = keras.random.uniform((_GAMMA_TRIES, *shape), seed=seed)
  v = (1.0 + c * x) ** 3
  safe_v = tf.maximum(v, 1e-30)
  accepted = (v > 0.0) & (tf.math.log(u) < 0.5 * x ** 2 + d - d * safe_v + d * tf.math.log(safe_v))
  first = tf.argmax(tf.cast(accepted, tf.int32), axis=0)  # the first accepted try (0 if none is)
  chosen = tf.reduce_sum(tf.one_hot(first, _GAMMA_TRIES, axis=0) * tf.math.log(d * safe_v), axis=0)
  chosen = tf.where(tf.reduce_any(accepted, axis=0), chosen, tf.math.log(boosted))
  if alpha < 1.0:
    chosen += tf.math.log(keras.random.uniform(shape, minval=1e-30, maxval=1.0, seed=seed)) / alpha
  return chosen


def beta_sample(shape, alpha: float, seed) -> tf.Tensor:
  """Beta(alpha, alpha) draws: G1 / (G1 + G2) of two Gamma(alpha) draws, computed from their logs."""
  return tf.sigmoid(log_gamma_sample(shape, alpha, seed) - log_gamma_sample(shape, alpha, seed))


def cutmix_box(shares: tf.Tensor, centre_y: tf.Tensor, centre_x: tf.Tensor, height: int, width: int):
  """For each share lambda, a box of sides sqrt(1 - lambda) times the image's at the given centre, clipped at
  the borders. Returns ((B, H, W) bool mask of the pasted box, (B,) share of the pixels outside it)."""
  ratio = tf.sqrt(1.0 - shares)
  half_h, half_w = tf.round(ratio * height) / 2.0, tf.round(ratio * width) / 2.0
  top = tf.clip_by_value(tf.round(centre_y - half_h), 0.0, float(height))
  bottom = tf.clip_by_value(tf.round(centre_y + half_h), 0.0, float(height))
  left = tf.clip_by_value(tf.round(centre_x - half_w), 0.0, float(width))
  right = tf.clip_by_value(tf.round(centre_x + half_w), 0.0, float(width))
  rows = tf.range(height, dtype=tf.float32)[None, :, None]
  columns = tf.range(width, dtype=tf.float32)[None, None, :]
  inside = ((rows >= top[:, None, None]) & (rows < bottom[:, None, None])
            & (columns >= left[:, None, None]) & (columns < right[:, None, None]))
  kept = 1.0 - (bottom - top) * (right - left) / float(height * width)
  return inside, kept


class MixupCutmix(keras.layers.Layer):
  """The batch mixer (see the module docstring); both alphas 0: the identity.

  call(images, labels, weights=None) -> dict with
    images: (B, H, W, C) float32, mixed;
    targets: (B,) float32 soft targets for the loss; weights: (B,) float32 their loss weights;
    labels, label_weights: the hard labels and weights for the metrics.
  """

  def __init__(self, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0, probability: float = 1.0,
               seed: int | None = None, **kwargs):
    super().__init__(**kwargs)
    self.mixup_alpha, self.cutmix_alpha, self.probability = mixup_alpha, cutmix_alpha, probability
    self.seed_generator = keras.random.SeedGenerator(seed)

  @property
  def active(self) -> bool:
    return self.probability > 0 and (self.mixup_alpha > 0 or self.cutmix_alpha > 0)

  def draw(self, batch_size) -> dict[str, tf.Tensor]:
    """This batch's random choices: mixed at all, cutmix or mixup, each image's shares and box centre (as
    fractions of the image)."""
    mixed = keras.random.uniform((), seed=self.seed_generator) < self.probability
    cutmix = tf.constant(self.cutmix_alpha > 0)
    if self.mixup_alpha > 0 and self.cutmix_alpha > 0:
      cutmix = keras.random.uniform((), seed=self.seed_generator) < 0.5
    return dict(mixed=mixed, cutmix=cutmix,
                mixup_share=beta_sample((batch_size,), self.mixup_alpha or 1.0, self.seed_generator),
                cutmix_share=beta_sample((batch_size,), self.cutmix_alpha or 1.0, self.seed_generator),
                centre_y=keras.random.uniform((batch_size,), seed=self.seed_generator),
                centre_x=keras.random.uniform((batch_size,), seed=self.seed_generator))

  def call(self, images, labels, weights=None):
    if not self.active:
      labels = tf.cast(tf.reshape(labels, [-1]), tf.float32)
      weights = tf.ones_like(labels) if weights is None else tf.cast(tf.reshape(weights, [-1]), tf.float32)
      return dict(images=images, targets=labels, weights=weights, labels=labels, label_weights=weights)
    return self.mix(images, labels, weights, self.draw(tf.shape(images)[0]))

  @staticmethod
  def mix(images, labels, weights, draw: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The batch mixed as `draw` says: deterministic (the same eagerly and under XLA)."""
    dtype, images = images.dtype, tf.cast(images, tf.float32)
    labels = tf.cast(tf.reshape(labels, [-1]), tf.float32)
    weights = tf.ones_like(labels) if weights is None else tf.cast(tf.reshape(weights, [-1]), tf.float32)
    height, width = images.shape[1], images.shape[2]
    partner = tf.reverse(images, axis=[0])
    mixup_share = draw["mixup_share"]
    blended = mixup_share[:, None, None, None] * images + (1.0 - mixup_share[:, None, None, None]) * partner
    box, cutmix_share = cutmix_box(draw["cutmix_share"], draw["centre_y"] * height, draw["centre_x"] * width,
                                   height, width)
    pasted = tf.where(box[..., None], partner, images)
    share = tf.where(draw["mixed"], tf.where(draw["cutmix"], cutmix_share, mixup_share), tf.ones_like(mixup_share))
    mixed = tf.where(draw["mixed"], tf.where(draw["cutmix"], pasted, blended), images)
    partner_labels, partner_weights = tf.reverse(labels, axis=[0]), tf.reverse(weights, axis=[0])
    weight = share * weights + (1.0 - share) * partner_weights
    target = tf.math.divide_no_nan(share * weights * labels + (1.0 - share) * partner_weights * partner_labels, weight)
    first = share >= 0.5
    return dict(images=tf.cast(mixed, dtype), targets=target, weights=weight,
                labels=tf.where(first, labels, partner_labels),
                label_weights=tf.where(first, weights, partner_weights))

  def get_config(self):
    return {**super().get_config(), "mixup_alpha": self.mixup_alpha, "cutmix_alpha": self.cutmix_alpha,
            "probability": self.probability}
