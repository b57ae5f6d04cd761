from __future__ import annotations

import math

from eval.metrics import Rate
from eval.sweep import SweepRecord, best_threshold, candidate_thresholds, passes, replay, sweep

# A tiny recorded run (gate threshold on coverage was 0.3 when it was recorded).
RECORDS = [
    SweepRecord(answerable=True, answered=True, correct=True, signals={"coverage": 0.9}),
    SweepRecord(answerable=True, answered=True, correct=False, signals={"coverage": 0.5}),
    SweepRecord(answerable=False, answered=True, signals={"coverage": 0.4}),  # hallucinated
    SweepRecord(answerable=False, answered=False, signals={"coverage": 0.8}),  # model declined
    SweepRecord(answerable=True, answered=False, gate_refused=True, signals={"coverage": 0.2}),
]


def test_sweep_hand_computed_curve() -> None:
    points = sweep(RECORDS, "coverage", [1.0, 0.0, 0.45, 0.6])
    assert [p.threshold for p in points] == [0.0, 0.45, 0.6, 1.0]
    at_0, at_45, at_60, at_100 = points
    # threshold 0: nothing extra refused; the gate-refused record's outcome is unknown
    assert at_0.hallucination == Rate(1, 2)
    assert at_0.coverage == Rate(2, 3)
    assert at_0.correct == Rate(1, 2)
    assert at_0.unknown == 1
    # 0.45 refuses the hallucinated question (0.4) but no answered answerable one
    assert at_45.hallucination == Rate(0, 2)
    assert at_45.coverage == Rate(2, 3)
    assert at_45.unknown == 0
    # 0.6 also refuses the wrongly answered question (0.5)
    assert at_60.coverage == Rate(1, 3)
    assert at_60.correct == Rate(1, 1)
    # 1.0 refuses everything
    assert at_100.coverage == Rate(0, 3)
    assert at_100.hallucination == Rate(0, 2)


def test_best_threshold_picks_highest_coverage_within_target() -> None:
    points = sweep(RECORDS, "coverage", [0.0, 0.45, 0.6, 1.0])
    best = best_threshold(points, max_hallucination=0.0)
    assert best is not None and best.threshold == 0.45
    loose = best_threshold(points, max_hallucination=0.5)
    assert loose is not None and loose.threshold == 0.0
    # with only 2 unanswerable questions, the 95% upper bound is never below 0.5
    assert best_threshold(points, max_hallucination=0.2, use_upper_bound=True) is None


def test_candidate_thresholds_cover_every_change() -> None:
    steps = candidate_thresholds(RECORDS, "coverage")
    assert steps[:-1] == [0.2, 0.4, 0.5, 0.8, 0.9]
    assert steps[-1] > 0.9
    assert sweep(RECORDS, "coverage")[-1].coverage == Rate(0, 3)
    assert candidate_thresholds(RECORDS, "missing") == []


def test_missing_signal_is_refused_and_fixed_thresholds_apply() -> None:
    record = SweepRecord(
        answerable=True, answered=True, signals={"coverage": 0.9, "best_dense": None}
    )
    assert passes(record, {"coverage": 0.5})
    assert not passes(record, {"best_dense": 0.1})
    two = [
        SweepRecord(True, True, {"coverage": 0.9, "best_dense": 0.2}),
        SweepRecord(True, True, {"coverage": 0.9, "best_dense": 0.6}),
    ]
    points = sweep(two, "coverage", [0.5], fixed={"best_dense": 0.5})
    assert points[0].coverage == Rate(1, 2)
    assert math.isnan(replay(two, {}).threshold)
