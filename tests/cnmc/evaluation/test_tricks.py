"""The tricks comparison's choices and table (its command runs in tests/tools/test_compare_tricks.py)."""

import numpy as np
import pytest

from cnmc.evaluation import tricks
from tests.cnmc.evaluation.test_neighbours import clusters


def predictions(embedding, probabilities, labels):
  names = np.array([f"{i}.bmp".encode() for i in range(len(labels))])
  return {"probability": probabilities, "probability_tta": probabilities, "features": embedding, "label": labels,
          "file_name": names, "subject_id": names}


def test_the_correction_is_chosen_on_the_grid_by_weighted_f1_of_the_given_split():
  embedding, probabilities, outlier = clusters()
  labels = (np.arange(40) >= 20).astype(int)  # the clusters are the classes; the outlier is wrong
  member = predictions(embedding, probabilities, labels)
  chosen = tricks.choose_neighbours([member, member])
  assert chosen["k"] in tricks.NEIGHBOUR_GRID["k"] and chosen["weight"] in tricks.NEIGHBOUR_GRID["weight"]
  assert chosen["weighted_f1"] == 1.0  # the correction fixes the outlier: perfect on this split
  assert (chosen["k"], chosen["weight"]) == (3, 0.5)  # the smallest k and weight that do (ties go small)


def test_methods_are_scored_and_summarised_as_mean_and_sd():
  embedding, probabilities, _ = clusters()
  labels = (np.arange(40) >= 20).astype(int)
  member = predictions(embedding, probabilities, labels)
  per_seed = [tricks.score_methods([member, member], member, member, k=3, weight=0.5) for _ in range(2)]
  assert list(per_seed[0]) == list(tricks.METHODS)
  assert per_seed[0]["ensemble + TTA + neighbours"]["weighted_f1"] == 1.0
  assert per_seed[0]["single model"]["weighted_f1"] < 1.0
  summary = tricks.summarise(per_seed)
  assert summary["single model"]["weighted_f1"]["sd"] == 0.0
  text = tricks.table(summary)
  assert text.splitlines()[0].startswith("| method | weighted F1") and "± 0.000" in text
  assert len(text.splitlines()) == 2 + len(tricks.METHODS)
  # Each method against the single model on the same resampled subjects, and every score with its interval.
  corrected, single = per_seed[0]["ensemble + TTA + neighbours"], per_seed[0]["single model"]
  assert single["vs_single"] is None and per_seed[0]["+ TTA"]["vs_single"]["value"] == 0.0
  assert corrected["vs_single"]["value"] == pytest.approx(1.0 - single["weighted_f1"])
  found = corrected["intervals"]["weighted_f1"]
  assert found["value"] == 1.0 and found["unit"] == "subject"
  lines = tricks.table(summary, per_seed).splitlines()
  assert lines[0].endswith("| vs single model (paired 95 % over subjects) |")
  assert lines[2].endswith("| — |") and all(line.endswith(" of 2 |") for line in lines[3:])
