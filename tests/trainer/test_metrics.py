"""The challenge metric and the clinical pair against values computed by hand."""

import numpy as np
import pytest

from trainer.metrics import Sensitivity, Specificity, WeightedF1

# 10 cells: 6 ALL (1), 4 HEM (0). Predictions at threshold 0.5:
#   ALL -> predicted ALL for 4 of 6 (tp 4, fn 2); HEM -> predicted HEM for 3 of 4 (tn 3, fp 1).
Y_TRUE = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
Y_PROB = np.array([0.9, 0.8, 0.7, 0.51, 0.2, 0.49, 0.1, 0.3, 0.45, 0.6])
# F1(ALL) = 2*4 / (2*4 + 1 + 2) = 8/11; F1(HEM) = 2*3 / (2*3 + 2 + 1) = 6/9.
# Weighted by support (6 ALL, 4 HEM): (6 * 8/11 + 4 * 6/9) / 10.
EXPECTED_WEIGHTED_F1 = (6 * 8 / 11 + 4 * 6 / 9) / 10
EXPECTED_SENSITIVITY = 4 / 6
EXPECTED_SPECIFICITY = 3 / 4


@pytest.mark.parametrize("metric,expected", [(WeightedF1, EXPECTED_WEIGHTED_F1),
                                             (Sensitivity, EXPECTED_SENSITIVITY),
                                             (Specificity, EXPECTED_SPECIFICITY)])
def test_scores_on_fixed_predictions(metric, expected):
  m = metric()
  m.update_state(Y_TRUE[:5], Y_PROB[:5])  # in two batches: the counts accumulate
  m.update_state(Y_TRUE[5:], Y_PROB[5:])
  assert float(m.result()) == pytest.approx(expected, abs=1e-6)


def test_counts_and_reset():
  m = WeightedF1()
  m.update_state(Y_TRUE, Y_PROB)
  assert m.count_values() == {"tp": 4, "fp": 1, "tn": 3, "fn": 2}
  m.reset_state()
  assert m.count_values() == {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
  assert float(m.result()) == 0.0  # no division by zero on an empty state


def test_sample_weights_do_not_change_the_counts():
  m = WeightedF1()
  m.update_state(Y_TRUE, Y_PROB, sample_weight=np.linspace(0.1, 3, 10))
  assert float(m.result()) == pytest.approx(EXPECTED_WEIGHTED_F1, abs=1e-6)


def test_perfect_and_all_wrong_predictions():
  perfect, wrong = WeightedF1(), WeightedF1()
  perfect.update_state(Y_TRUE, Y_TRUE.astype(float))
  wrong.update_state(Y_TRUE, 1.0 - Y_TRUE)
  assert float(perfect.result()) == pytest.approx(1.0) and float(wrong.result()) == pytest.approx(0.0)
