"""Offline threshold sweep: hallucination rate against coverage, no LLM re-run.

A recorded run stores, per question, the evidence-gate signals (for example
``best_dense`` and ``coverage``) and what happened (answered or refused, and
whether the answer was right). Replaying the gate at another threshold only
needs those records: a question whose signal falls below the swept threshold
would have been refused by the gate; every other question keeps its recorded
outcome.

That replay is exact only for questions whose recorded outcome did not come
from the gate. A question the gate refused in the recording, but which would
pass at a lower threshold, has no known outcome; it is kept as refused and
counted in ``SweepPoint.unknown``. To sweep freely, record a run with the
gate thresholds set to 0, so every question reaches the model once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from eval.metrics import Rate


@dataclass(frozen=True, slots=True)
class SweepRecord:
    """One question of a recorded run."""

    answerable: bool
    answered: bool  # the recorded outcome was an Answer
    signals: Mapping[str, float | None] = field(default_factory=dict)
    correct: bool | None = None  # for answered questions: judged right; None if unknown
    gate_refused: bool = False  # refused by the evidence gate in the recording


@dataclass(frozen=True, slots=True)
class SweepPoint:
    threshold: float
    hallucination: Rate  # unanswerable questions answered
    coverage: Rate  # answerable questions answered
    correct: Rate  # answered answerable questions judged right (where judged)
    unknown: int  # gate-refused in the recording but passing here: outcome unknown


def passes(record: SweepRecord, thresholds: Mapping[str, float]) -> bool:
    """Whether the gate would let ``record`` through: every named signal is
    present and at least its threshold (the gate refuses a missing signal)."""
    for name, threshold in thresholds.items():
        value = record.signals.get(name)
        if value is None or value < threshold:
            return False
    return True


def replay(records: Iterable[SweepRecord], thresholds: Mapping[str, float]) -> SweepPoint:
    """Outcome rates had the gate used ``thresholds``; ``SweepPoint.threshold``
    is NaN here since several signals may be set (``sweep`` fills it in)."""
    unanswerable_answered: list[bool] = []
    answerable_answered: list[bool] = []
    judged: list[bool] = []
    unknown = 0
    for record in records:
        through = passes(record, thresholds)
        if through and record.gate_refused:
            unknown += 1
        answered = through and record.answered
        if record.answerable:
            answerable_answered.append(answered)
            if answered and record.correct is not None:
                judged.append(record.correct)
        else:
            unanswerable_answered.append(answered)
    return SweepPoint(
        threshold=math.nan,
        hallucination=Rate(sum(unanswerable_answered), len(unanswerable_answered)),
        coverage=Rate(sum(answerable_answered), len(answerable_answered)),
        correct=Rate(sum(judged), len(judged)),
        unknown=unknown,
    )


def candidate_thresholds(records: Iterable[SweepRecord], signal: str) -> list[float]:
    """Every distinct observed value of ``signal`` (each one a point where the
    curve can change), plus one just above the largest, where all are refused."""
    values = sorted({v for r in records if (v := r.signals.get(signal)) is not None})
    if not values:
        return []
    return [*values, math.nextafter(values[-1], math.inf)]


def sweep(
    records: Sequence[SweepRecord],
    signal: str,
    thresholds: Sequence[float] | None = None,
    fixed: Mapping[str, float] | None = None,
) -> list[SweepPoint]:
    """The hallucination/coverage curve as the threshold on ``signal`` moves
    through ``thresholds`` (default: ``candidate_thresholds``), with the
    thresholds in ``fixed`` held for the other signals. Points are in
    ascending threshold order."""
    steps = sorted(thresholds) if thresholds is not None else candidate_thresholds(records, signal)
    points: list[SweepPoint] = []
    for threshold in steps:
        point = replay(records, {**(fixed or {}), signal: threshold})
        points.append(
            SweepPoint(
                threshold=threshold,
                hallucination=point.hallucination,
                coverage=point.coverage,
                correct=point.correct,
                unknown=point.unknown,
            )
        )
    return points


def best_threshold(
    points: Sequence[SweepPoint], max_hallucination: float, use_upper_bound: bool = False
) -> SweepPoint | None:
    """The point with the highest coverage whose hallucination rate (or, with
    ``use_upper_bound``, the top of its 95% interval) is at most
    ``max_hallucination``; ties go to the lowest threshold. None when no
    point qualifies."""
    best: SweepPoint | None = None
    for point in points:
        rate = point.hallucination
        level = rate.interval[1] if use_upper_bound else (rate.value or 0.0)
        if level > max_hallucination:
            continue
        if best is None or (point.coverage.value or 0.0) > (best.coverage.value or 0.0):
            best = point
    return best
