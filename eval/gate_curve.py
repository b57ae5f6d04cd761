"""The evidence gate's hallucination/coverage curve, replayed from a run's records.

``eval.sweep`` replays thresholds over recorded signals. The gate has one
coverage threshold per language (English words, Chinese characters), so the
signal swept here is the *shift* of a question's coverage from its own
language's threshold: shift 0 is the run's operating point, and moving it
raises or lowers both thresholds together. The dense-similarity threshold is
held where it was. Questions whose passages share no content word with them
are refused by the gate at any threshold and carry no signal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eval.metrics import rate_dict
from eval.sweep import SweepPoint, SweepRecord, best_threshold, replay, sweep

SWEEP_SIGNAL = "coverage_shift"  # coverage minus the gate's threshold for the language
DENSE_SIGNAL = "dense_shift"  # best_dense minus the gate's threshold for the language
SWEEP_TARGETS = (0.05, 0.10)  # hallucination rates to find the best threshold for

Record = Mapping[str, Any]


def _snap(value: float) -> float:
    """Round a threshold shift so that 0.7 - 0.6 and a grid step of 0.1 compare
    equal (coverage values within 1e-12 of a threshold are not worth a distinction)."""
    return round(value, 12)


def sweep_records(scored: Sequence[Record], gate: Mapping[str, float]) -> list[SweepRecord]:
    """``eval.sweep`` records with the shifted signals (see the module docstring)."""
    out: list[SweepRecord] = []
    for r in scored:
        evidence = r["evidence"]
        signals: dict[str, float | None] = {}
        if evidence is not None and evidence["matched"]:
            zh = evidence["language"] == "zh"
            min_cov = gate["min_term_coverage_cjk" if zh else "min_term_coverage"]
            min_dense = gate["min_dense_score_cjk" if zh else "min_dense_score"]
            best = evidence["best_dense"]
            signals[SWEEP_SIGNAL] = _snap(evidence["coverage"] - min_cov)
            signals[DENSE_SIGNAL] = None if best is None else _snap(best - min_dense)
        answered = r["outcome"] == "answer"
        correct = bool(r["scores"]["contains_gold"]) if answered and r["answerable"] else None
        out.append(
            SweepRecord(
                answerable=bool(r["answerable"]),
                answered=answered,
                signals=signals,
                correct=correct,
                gate_refused=r["refusal_reason"] == "no_evidence",
            )
        )
    return out


def _point(point: SweepPoint, gate: Mapping[str, float]) -> dict[str, Any]:
    shift = point.threshold
    return {
        "shift": shift,
        "threshold_en": max(0.0, gate["min_term_coverage"] + shift),
        "threshold_zh": max(0.0, gate["min_term_coverage_cjk"] + shift),
        "hallucination": rate_dict(point.hallucination),
        "coverage": rate_dict(point.coverage),
        "correct": rate_dict(point.correct),
        "unknown": point.unknown,
    }


def sweep_section(
    scored: Sequence[Record], gate: Mapping[str, float] | None
) -> dict[str, Any] | None:
    """The hallucination/coverage curve as the gate's coverage threshold moves;
    None when the run recorded no gate signals (the baseline)."""
    if gate is None:
        return None
    records = sweep_records(scored, gate)
    if not any(r.signals for r in records):
        return None
    fixed = {DENSE_SIGNAL: 0.0}
    points = sweep(records, SWEEP_SIGNAL, fixed=fixed)
    here = replay(records, {SWEEP_SIGNAL: 0.0, **fixed})
    operating = SweepPoint(0.0, here.hallucination, here.coverage, here.correct, here.unknown)
    grid = [_snap(t / 10 - gate["min_term_coverage"]) for t in range(11)]
    best = {}
    for target in SWEEP_TARGETS:
        found = best_threshold(points, target)
        best[f"{target:g}"] = None if found is None else _point(found, gate)
    return {
        "signal": "term coverage threshold (shifted equally for en and zh)",
        "operating_point": _point(operating, gate),
        "points": [_point(p, gate) for p in points],
        "grid": [_point(p, gate) for p in sweep(records, SWEEP_SIGNAL, grid, fixed)],
        "best_within_hallucination": best,
    }
