"""A search's verdicts: the budget, scores, the best feasible trial, the front, the table and the CSV."""

import csv

import pytest

from mnist_edge.search.config import Budget
from mnist_edge.search.results import (
    FIELDS,
    choose,
    closest,
    infeasible_score,
    judge,
    make_row,
    pareto,
    status_of,
    table,
    write_csv,
)
from mnist_edge.search.space import DEFAULT_SPACE

MEMBER = {name: values[0] for name, values in DEFAULT_SPACE.items()}


def measured(trial, accuracy, size_kb, p50_us, arena_kb=8.0, reasons=""):
    metrics = {
        "stage": "measured",
        "feasible": not reasons,
        "val_accuracy": accuracy,
        "size_bytes": round(size_kb * 1024),
        "p50_us": p50_us,
        "arena_bytes": round(arena_kb * 1024),
        "gate_failures": reasons,
        "reasons": reasons,
        "epoch": 3,
    }
    return make_row(trial, MEMBER, metrics, "measured", 10.0, None)


@pytest.mark.parametrize(
    "budget,figures,over",
    [
        (Budget(), (10**6, 1e6, 10**6), {}),
        (Budget(max_kb=32), (32 * 1024, None, None), {}),
        (Budget(max_kb=32), (48 * 1024, None, None), {"size": 0.5}),
        (Budget(max_us=20), (1, 30.0, None), {"latency": 0.5}),
        (Budget(max_arena_kb=16), (1, None, 8 * 1024), {}),
        (Budget(max_arena_kb=16), (1, None, 32 * 1024), {"arena": 1.0}),
        (Budget(max_arena_kb=16), (1, None, None), {"arena": 1.0}),
        (Budget(32, 20, 16), (64 * 1024, 40.0, 32 * 1024), {"size": 1.0, "latency": 1.0, "arena": 1.0}),
    ],
    ids=[
        "no limit",
        "size at the limit",
        "size over",
        "latency over",
        "arena within",
        "arena over",
        "arena TFLM cannot measure",
        "all over",
    ],
)
def test_overshoot_is_the_fraction_over_each_limit(budget, figures, over):
    assert budget.overshoot(*figures) == pytest.approx(over)


def test_the_preflight_latency_margin_spares_a_member_a_little_slow():
    assert Budget(max_us=20).overshoot(1, 24.0, None, latency_margin=1.25) == {}
    assert Budget(max_us=20).overshoot(1, 26.0, None, latency_margin=1.25) == pytest.approx({"latency": 0.3})


def test_scores_rank_feasible_above_gate_failures_above_over_budget():
    feasible = 0.2  # even a poor feasible trial
    gate_failed = infeasible_score({}, ["agreement 0.95 < 0.99"], accuracy=0.999)
    slightly_over = infeasible_score({"size": 0.1}, [])
    far_over = infeasible_score({"size": 50.0}, [])
    assert feasible > gate_failed > slightly_over > far_over >= -10.0


@pytest.mark.parametrize(
    "metrics,error,interrupted,status",
    [
        ({"stage": "measured"}, None, False, "measured"),
        ({"stage": "preflight"}, None, False, "over budget"),
        ({"stage": "training"}, None, False, "stopped early"),
        ({"stage": "training"}, None, True, "unfinished"),
        ({}, None, False, "unfinished"),
        ({"stage": "measured"}, "ValueError: x", False, "error"),
    ],
)
def test_status(metrics, error, interrupted, status):
    assert status_of(metrics, error, interrupted) == status


def test_the_most_accurate_trial_is_never_chosen_over_budget():
    rows = [
        measured("big", 0.995, 64, 30),
        measured("small", 0.990, 30, 12),
        measured("smaller", 0.985, 20, 10),
    ]
    for row in rows:
        judge(row, Budget(max_kb=32))
    assert not rows[0]["feasible"] and "over budget: size" in rows[0]["reasons"]
    assert choose(rows)["trial"] == "small"


def test_a_gate_failure_is_never_chosen():
    rows = [measured("drifts", 0.999, 10, 5, reasons="agreement 0.9500 < 0.99"), measured("ok", 0.98, 10, 5)]
    for row in rows:
        judge(row, Budget(max_kb=32))
    assert choose(rows)["trial"] == "ok"
    assert rows[0]["reasons"] == "agreement 0.9500 < 0.99"


def test_equal_accuracy_chooses_the_smaller_then_the_faster():
    rows = [measured("a", 0.99, 20, 10), measured("b", 0.99, 16, 12), measured("c", 0.99, 16, 9)]
    assert choose(rows)["trial"] == "c"


def test_nothing_feasible_chooses_nothing():
    row = measured("big", 0.995, 64, 30)
    judge(row, Budget(max_kb=1))
    assert choose([row]) is None


def test_judging_again_uses_the_quiet_latency():
    row = measured("t", 0.99, 10, 25.0)  # timed in the trial beside another trial's training
    judge(row, Budget(max_us=20))
    assert not row["feasible"]
    row["p50_us"] = 15.0  # timed again when nothing else ran
    judge(row, Budget(max_us=20))
    assert row["feasible"] and row["reasons"] == ""


def test_the_pareto_front_drops_dominated_trials():
    rows = [measured("a", 0.99, 20, 10), measured("dominated", 0.98, 30, 12), measured("b", 0.995, 40, 20)]
    assert [r["trial"] for r in pareto(rows)] == ["a", "b"]
    rows.append(measured("small but slow", 0.97, 5, 40))
    assert [r["trial"] for r in pareto(rows)] == ["a", "b", "small but slow"]
    assert [r["trial"] for r in pareto(rows, ("p50_us",))] == ["a", "b"]  # one cost: the latency panel


def test_the_closest_trials_are_the_least_over_budget():
    rows = [measured("far", 0.99, 100, 5), measured("near", 0.99, 40, 5), measured("ok", 0.99, 10, 5)]
    for row in rows:
        judge(row, Budget(max_kb=32))
    assert [r["trial"] for r in closest(rows)] == ["near", "far"]


def test_the_table_marks_the_best_and_says_why_others_lost():
    rows = [measured("big", 0.995, 64, 30), measured("small", 0.990, 30, 12)]
    for row in rows:
        judge(row, Budget(max_kb=32))
    text = table(rows, choose(rows))
    lines = text.splitlines()
    assert lines[2].startswith("* small") and "feasible" in lines[2]
    assert "measured (over budget: size)" in lines[3]


def test_the_csv_has_every_trial_and_field(tmp_path):
    rows = [
        measured("a", 0.99, 20, 10),
        make_row("b", MEMBER, {"stage": "training", "epoch": 1}, "stopped early", 3.0, None),
    ]
    path = write_csv(rows, tmp_path / "trials.csv")
    read = list(csv.DictReader(path.open()))
    assert [r["trial"] for r in read] == ["a", "b"] and list(read[0]) == FIELDS
    assert read[1]["val_accuracy"] == "" and read[1]["status"] == "stopped early"


def test_an_arena_tflm_could_not_measure_says_why_under_an_arena_limit():
    from mnist_edge.search.results import reasons_of

    error = "m.tflite: TensorFlow Lite Micro cannot run this model (x)"
    over = Budget(max_arena_kb=16).overshoot(1000, None, None)
    assert reasons_of([], over, None, error, " before training") == [
        "over budget before training: arena",
        "m.tflite: TensorFlow Lite Micro cannot run this model (x)",
    ]
    assert reasons_of([], {}, None, error) == []
