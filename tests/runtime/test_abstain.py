"""The "not a digit" score and decision (runtime/abstain.py): numpy only, no model."""

import numpy as np
import pytest

from mnist_edge.runtime import abstain

SURE = [0.0] * 9 + [1.0]
TORN = [0.0] * 8 + [0.45, 0.45]  # a 4 or a 9: an unusual digit
FLAT = [0.1] * 10  # no digit at all

SCORES = [
    ("top1", SURE, 1.0),
    ("top1", TORN, 0.45),
    ("top2", TORN, 0.9),
    ("top2", FLAT, 0.2),
]


@pytest.mark.parametrize("kind,probs,expected", SCORES)
def test_scores(kind, probs, expected):
    assert abstain.score(probs, kind) == pytest.approx(expected)


def test_scores_of_many_at_once():
    assert abstain.score(np.array([SURE, TORN, FLAT]), "top2") == pytest.approx([1.0, 0.9, 0.2])


def test_an_unknown_score_is_a_value_error():
    with pytest.raises(ValueError, match="unknown score"):
        abstain.score(SURE, "top3")


DECISIONS = [
    # (score, probabilities, threshold, label kept?)
    ("top1", TORN, 0.6, False),
    ("top2", TORN, 0.6, True),  # torn between two digits: still a digit
    ("top2", FLAT, 0.6, False),
    ("top2", FLAT, 0.0, True),  # 0 never abstains
]


@pytest.mark.parametrize("kind,probs,threshold,kept", DECISIONS)
def test_decisions(kind, probs, threshold, kept):
    decision = abstain.decide(9, probs, threshold, kind)
    assert (decision.label == 9) is kept
    assert (decision.reason is None) is kept


@pytest.mark.parametrize(
    "kind,said", [("top1", "confidence 0.10 < 0.60"), ("top2", "two likeliest together 0.20 < 0.60")]
)
def test_the_reason_names_the_score(kind, said):
    assert said in abstain.decide(0, FLAT, 0.6, kind).reason


def test_calibration_keeps_all_but_the_target_rate_and_rounds_to_an_int8_step():
    scores = np.linspace(0.5, 1.0, 1000)
    threshold = abstain.calibrate(scores, rate=0.01)
    assert np.mean(scores < threshold) <= 0.01
    assert threshold * 256 == int(threshold * 256)


BUDGETS = [
    # (case, digit scores, non-digit scores, expected threshold)
    (
        "non-digits far below: down to the budget",
        np.linspace(0.9, 1.0, 1000),
        np.linspace(0.0, 0.5, 1000),
        0.5,
    ),
    (
        "non-digits overlapping: the digits' threshold",
        np.linspace(0.5, 1.0, 1000),
        np.linspace(0.0, 1.0, 1000),
        None,
    ),
    ("no non-digits: the digits' threshold", np.linspace(0.5, 1.0, 1000), np.zeros(0), None),
]


@pytest.mark.parametrize("name,digits,others,expected", BUDGETS, ids=[b[0] for b in BUDGETS])
def test_the_threshold_goes_down_only_within_the_false_accept_budget(name, digits, others, expected):
    threshold = abstain.calibrate_with_budget(digits, others, rate=0.01, budget=0.02)
    assert threshold <= abstain.calibrate(digits, 0.01)
    if expected is None:  # the budget only ever lowers the digits' threshold
        assert threshold == abstain.calibrate(digits, 0.01)
    else:
        assert np.mean(others >= threshold) <= 0.02
        assert threshold == pytest.approx(expected, abs=2 / 256)
