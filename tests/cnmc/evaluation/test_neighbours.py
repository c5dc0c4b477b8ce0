"""Neighbourhood correction: identity when off, pulls an outlier to its cluster, the search is exact."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cnmc.evaluation import ensembles, neighbours


def clusters(seed=0, per_cluster=20, dims=16):
  """Two tight clusters of embeddings: cluster 0's cells have P(ALL) ~0.1, cluster 1's ~0.9, except
  cell 5 of cluster 1, which the model got wrong (0.2)."""
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(2, dims)) * 5
  embedding = np.concatenate([centres[c] + rng.normal(scale=0.1, size=(per_cluster, dims)) for c in (0, 1)])
  probabilities = np.concatenate([np.full(per_cluster, 0.1), np.full(per_cluster, 0.9)]).astype(np.float32)
  outlier = per_cluster + 5
  probabilities[outlier] = 0.2
  return embedding, probabilities, outlier


def test_no_neighbours_or_no_weight_is_the_identity():
  embedding, probabilities, _ = clusters()
  np.testing.assert_array_equal(neighbours.correct(probabilities, embedding, k=0, weight=0.5), probabilities)
  np.testing.assert_array_equal(neighbours.correct(probabilities, embedding, k=5, weight=0.0), probabilities)


def test_a_wrong_cell_is_pulled_to_its_clusters_class():
  embedding, probabilities, outlier = clusters()
  corrected = neighbours.correct(probabilities, embedding, k=5, weight=0.6)
  assert probabilities[outlier] < 0.5 < corrected[outlier]  # now called ALL, like its cluster
  assert (corrected[:20] < 0.5).all() and (corrected[20:] > 0.5).all()
  # Its neighbours are its own cluster's cells, most similar first, never itself.
  found = neighbours.nearest_neighbours(embedding, 5)
  assert set(found[outlier]) <= set(range(20, 40)) - {outlier}


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 9))
def test_the_search_finds_the_exact_cosine_neighbours_and_the_correction_stays_a_probability(seed, k):
  rng = np.random.default_rng(seed)
  embedding, probabilities = rng.normal(size=(37, 8)), rng.uniform(size=37).astype(np.float32)
  similarity = neighbours.unit_rows(embedding) @ neighbours.unit_rows(embedding).T
  np.fill_diagonal(similarity, -np.inf)  # a cell is not its own neighbour
  expected = np.argsort(-similarity, axis=1, kind="stable")[:, :k]  # brute force, by hand
  found = neighbours.nearest_neighbours(embedding, k)
  np.testing.assert_allclose(np.take_along_axis(similarity, found, axis=1),
                             np.take_along_axis(similarity, expected, axis=1), atol=1e-6)  # ties may swap
  corrected = neighbours.correct(probabilities, embedding, k, 0.5)
  assert ((0 <= corrected) & (corrected <= 1)).all()


def test_the_joint_embedding_averages_the_members_cosine_similarities():
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(6, 4)), rng.normal(size=(6, 9)) * 100  # widths and scales differ
  joint = neighbours.joint_embedding([a, b])
  cosine = lambda x: neighbours.unit_rows(x) @ neighbours.unit_rows(x).T  # noqa: E731
  np.testing.assert_allclose(joint @ joint.T, (cosine(a) + cosine(b)) / 2, atol=1e-5)


def members(seed=0, n=30, tta=True):
  rng = np.random.default_rng(seed)
  return [{"probability": rng.uniform(size=n).astype(np.float32), "probability_tta": rng.uniform(size=n),
           "features": rng.normal(size=(n, 8)), "label": rng.integers(0, 2, n),
           "file_name": np.array([f"{i}.bmp".encode() for i in range(n)])} for _ in range(2)]


def test_the_methods_never_read_labels():
  predicted = members()
  shuffled = [{**m, "label": np.random.default_rng(9).permutation(m["label"])} for m in predicted]
  without = [{key: value for key, value in m.items() if key != "label"} for m in predicted]
  expected = ensembles.combine(predicted, tta=True, neighbour_k=5, neighbour_weight=0.5)
  for other in (shuffled, without):
    got = ensembles.combine(other, tta=True, neighbour_k=5, neighbour_weight=0.5)
    assert list(got) == list(expected)
    for name in expected:
      np.testing.assert_array_equal(got[name], expected[name])


def test_ensemble_columns_are_the_members_mean_and_identical_members_give_the_member():
  predicted = members()
  columns = ensembles.combine(predicted, tta=True, neighbour_k=0, neighbour_weight=0.0)
  assert list(columns) == ["member_1", "member_1_tta", "member_2", "member_2_tta", "ensemble", "ensemble_tta"]
  np.testing.assert_allclose(columns["ensemble"], (predicted[0]["probability"] + predicted[1]["probability"]) / 2)
  twice = ensembles.combine([predicted[0], predicted[0]], tta=True, neighbour_k=0, neighbour_weight=0.0)
  np.testing.assert_allclose(twice["ensemble"], predicted[0]["probability"], rtol=1e-6)
  np.testing.assert_allclose(twice["ensemble_tta"], predicted[0]["probability_tta"], rtol=1e-6)
  one = ensembles.combine(predicted[:1], tta=True, neighbour_k=3, neighbour_weight=0.5)
  assert list(one) == ["plain", "tta", "neighbours"]


def test_members_are_matched_by_file_name():
  first, second = members()
  order = np.random.default_rng(3).permutation(len(second["file_name"]))
  shuffled = {key: value[order] for key, value in second.items()}
  aligned = ensembles.align([first, shuffled])
  np.testing.assert_array_equal(aligned[1]["probability"], second["probability"])
  with pytest.raises(Exception, match="did not see the same images"):
    ensembles.align([first, {key: value[:-1] for key, value in second.items()}])
