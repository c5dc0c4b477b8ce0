"""Neighbourhood correction (after Pan et al., the C-NMC 2019 winner): each cell's P(ALL) blended with
the mean P(ALL) of its k most similar cells of the same scored set.

Cells of one subject share a stain and a label, so in the backbone's feature space a cell's nearest
neighbours are mostly cells of its own subject, and their vote corrects its outliers. It is
transductive: it uses the other unlabelled cells being scored, never a label (this module is never
given one), so it also corrects the challenge's unlabelled final test set.

Similarity is cosine. An ensemble's members' features are each L2-normalised and concatenated (then
normalised again), so the similarity of two cells is the mean of the members' cosine similarities:
every member counts equally whatever the width of its features (1536 for EfficientNetB3, 256 for
small_cnn), which an average of raw features could not do across different backbones.

The search is scikit-learn's exact brute-force `NearestNeighbors(metric="cosine")`, which never holds
the N x N distances at once (it works in chunks of its `working_memory`). Time is N^2 x D multiply-adds;
measured on this project's 2-core CPU with D = 1,536 (EfficientNetB3's features), best of 3: 0.13 s for
the final set's 2,586 cells and 2.0 s for 10,000, against 0.18 s and 1.7 s for the blockwise NumPy
search it replaced (BUILD.md): no clear winner, so the library. Beyond ~100,000 cells an approximate
index (e.g. FAISS) would be the tool.
"""

import numpy as np

DEFAULT_NEIGHBOURS = 10  # chosen on a training fold by tools.compare_tricks (BUILD.md, "Leaderboard tricks")
DEFAULT_WEIGHT = 0.75


def unit_rows(features: np.ndarray) -> np.ndarray:
  """Each row scaled to length 1 (rows of zeros stay zero)."""
  features = np.asarray(features, np.float32)
  norms = np.linalg.norm(features, axis=1, keepdims=True)
  return features / np.maximum(norms, 1e-12)


def joint_embedding(member_features: list[np.ndarray]) -> np.ndarray:
  """Members' features (each (N, D_i)) as one (N, sum D_i) embedding whose cosine similarity is the mean
  of the members' cosine similarities."""
  return unit_rows(np.concatenate([unit_rows(f) for f in member_features], axis=1))


def nearest_neighbours(embedding: np.ndarray, k: int) -> np.ndarray:
  """(N, k) indices of each row's k most cosine-similar other rows, most similar first."""
  embedding = np.asarray(embedding, np.float32)
  n = len(embedding)
  if not 0 < k < n:
    raise ValueError(f"k must be between 1 and the number of cells - 1 ({n - 1}), got {k}.")
  from sklearn.neighbors import NearestNeighbors  # here: importing scikit-learn costs every command a second
  index = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(embedding)
  _, found = index.kneighbors(embedding)  # (N, k + 1): each row's own cell among them (first, but for ties)
  not_self = found != np.arange(n)[:, None]
  order = np.argsort(~not_self, axis=1, kind="stable")  # the other cells first, in their order
  return np.take_along_axis(found, order, axis=1)[:, :k]


def correct(probabilities: np.ndarray, embedding: np.ndarray, k: int = DEFAULT_NEIGHBOURS,
            weight: float = DEFAULT_WEIGHT) -> np.ndarray:
  """(1 - weight) * P(ALL) + weight * (mean P(ALL) of the k nearest other cells).

  Args:
    probabilities: (N,) P(ALL) of the cells being scored.
    embedding: (N, D) their features (joint_embedding for an ensemble).
    k: neighbours per cell; 0 leaves the probabilities as they are.
    weight: the neighbours' share in [0, 1]; 0 leaves them as they are.
  Returns:
    (N,) corrected P(ALL).
  """
  probabilities = np.asarray(probabilities, np.float32)
  if not 0.0 <= weight <= 1.0:
    raise ValueError(f"weight must be in [0, 1], got {weight}.")
  if k == 0 or weight == 0.0 or len(probabilities) < 2:
    return probabilities.copy()
  k = min(k, len(probabilities) - 1)
  neighbours = nearest_neighbours(embedding, k)
  return (1.0 - weight) * probabilities + weight * probabilities[neighbours].mean(axis=1)
