"""Procedural single-cell images shaped like C-NMC 2019: one segmented, stained cell on black.

The class signal mimics what haematologists look for, with overlapping distributions so that it
is learnable but not trivial:
  - ALL blasts: larger cells, a higher nucleus/cell ratio, fine dispersed chromatin, nucleoli,
    a more irregular nuclear outline;
  - HEM (normal) lymphocytes: smaller, condensed coarse chromatin, rarely a nucleolus.
Every subject also has its own stain, brightness and size, so that subject-level effects exist
and a random image-level split leaks them, as in the real data.
"""

import dataclasses

import numpy as np
from PIL import Image

from cnmc_tfds.vocabulary import ALL, IMAGE_SIZE


# Optical density per unit stain in R, G, B: nuclei absorb red and green (purple), the
# cytoplasm much less (pale blue-violet), as in the stain-normalised C-NMC images.
_NUCLEUS_ABSORBANCE = np.array([0.62, 0.80, 0.30], np.float32)
_CYTOPLASM_ABSORBANCE = np.array([0.55, 0.45, 0.18], np.float32)


@dataclasses.dataclass(frozen=True)
class SubjectStyle:
  """What all images of one subject share: the staining run, the scanner and the person."""
  stain_gain: np.ndarray  # (3,) multiplies the absorbance per channel
  illumination: float  # white level, as a fraction of 255
  size_factor: float  # this subject's cells are all somewhat larger or smaller


def draw_subject_style(rng: np.random.Generator) -> SubjectStyle:
  return SubjectStyle(
      stain_gain=rng.normal(1.0, 0.10, size=3).clip(0.7, 1.3).astype(np.float32),
      illumination=float(np.clip(rng.normal(0.94, 0.03), 0.85, 1.0)),
      size_factor=float(np.clip(rng.normal(1.0, 0.07), 0.8, 1.2)),
  )


def _smooth_noise(rng: np.random.Generator, grain_px: float, size: int) -> np.ndarray:
  """Zero-mean, unit-variance noise with features about `grain_px` wide, (size, size) float32."""
  cells = max(2, int(round(size / grain_px)))
  coarse = rng.standard_normal((cells, cells)).astype(np.float32)
  field = np.asarray(Image.fromarray(coarse, mode="F").resize((size, size), Image.BICUBIC))
  return (field - field.mean()) / (field.std() + 1e-6)


def _wobbly_radius(rng: np.random.Generator, theta: np.ndarray, radius: float,
                   irregularity: float) -> np.ndarray:
  """A radius per angle: a circle perturbed by a few low harmonics (an irregular outline)."""
  wobble = np.zeros_like(theta)
  for harmonic in range(2, 6):
    amplitude = irregularity * rng.uniform(0.3, 1.0) / (harmonic - 1)
    wobble += amplitude * np.cos(harmonic * theta + rng.uniform(0, 2 * np.pi))
  return radius * (1.0 + wobble)


def _soft_inside(distance_past_edge: np.ndarray) -> np.ndarray:
  """1 inside, 0 outside, a one-pixel anti-aliased edge between."""
  return np.clip(0.5 - distance_past_edge, 0.0, 1.0)


def render_cell(rng: np.random.Generator, label: int, style: SubjectStyle,
                size: int = IMAGE_SIZE) -> np.ndarray:
  """Draws one segmented cell of class `label` (ALL or HEM); returns (size, size, 3) uint8."""
  blast = label == ALL
  cell_radius = style.size_factor * rng.normal(96 if blast else 84, 12) * size / IMAGE_SIZE
  cell_radius = float(np.clip(cell_radius, 0.12 * size, 0.40 * size))
  nucleus_ratio = float(np.clip(rng.normal(0.80 if blast else 0.71, 0.06), 0.5, 0.93))
  # 0 = fine dispersed chromatin, 1 = coarse condensed clumps.
  coarseness = rng.beta(2, 3) if blast else rng.beta(3, 2)
  n_nucleoli = rng.poisson(1.0 if blast else 0.25)

  # Draw inside a window around the cell only: the rest of the frame stays black.
  half = min(size // 2, int(cell_radius * 1.3) + 4)
  window = 2 * half
  centre = half + rng.normal(0, 0.02 * size, size=2)
  yy, xx = np.mgrid[0:window, 0:window].astype(np.float32)
  dy, dx = yy - centre[0], xx - centre[1]
  cell_edge = _wobbly_radius(rng, np.arctan2(dy, dx), cell_radius, irregularity=0.04)
  cell_mask = _soft_inside(np.hypot(dy, dx) - cell_edge)

  # The nucleus sits off-centre within the cell, as it usually does.
  nucleus_radius = nucleus_ratio * cell_radius
  room = (cell_radius - nucleus_radius) * 0.7
  angle = rng.uniform(0, 2 * np.pi)
  ny, nx = centre + room * rng.uniform(0, 1) * np.array([np.sin(angle), np.cos(angle)])
  ndy, ndx = yy - ny, xx - nx
  nucleus_edge = _wobbly_radius(rng, np.arctan2(ndy, ndx), nucleus_radius,
                                irregularity=0.07 if blast else 0.04)
  nucleus_mask = _soft_inside(np.hypot(ndy, ndx) - nucleus_edge) * cell_mask

  grain = 4.0 + 10.0 * coarseness
  chromatin = 1.0 + (0.12 + 0.25 * coarseness) * _smooth_noise(rng, grain, window)
  for _ in range(n_nucleoli):  # nucleoli: small pale spots inside the nucleus
    r = rng.uniform(0, 0.55) * nucleus_radius
    a = rng.uniform(0, 2 * np.pi)
    spot = _soft_inside(np.hypot(yy - ny - r * np.sin(a), xx - nx - r * np.cos(a)) -
                        rng.uniform(5, 9) * size / IMAGE_SIZE)
    chromatin *= 1.0 - 0.45 * spot

  cytoplasm_density = 0.32 * (1.0 + 0.08 * _smooth_noise(rng, 6.0, window))
  nucleus_density = rng.normal(1.15, 0.08) * chromatin
  density = (cell_mask - nucleus_mask)[..., None] * cytoplasm_density[..., None] * _CYTOPLASM_ABSORBANCE
  density += nucleus_mask[..., None] * nucleus_density[..., None] * _NUCLEUS_ABSORBANCE
  light = 255.0 * style.illumination * np.exp(-density * style.stain_gain)
  light += 2.5 * rng.standard_normal(light.shape, dtype=np.float32)  # sensor noise
  image = np.zeros((size, size, 3), np.uint8)  # segmentation leaves the background exactly black
  top = size // 2 - half
  image[top:top + window, top:top + window] = np.clip(light * cell_mask[..., None], 0, 255).round()
  return image
