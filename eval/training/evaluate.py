"""Measuring the reader on the shared SQuAD 2.0 halves, and fitting its calibration.

Two settings:

* **closed paragraph**: each question against the paragraph it was written on
  (how published SQuAD 2.0 readers are scored: EM, F1, no-answer accuracy);
* **retrieved**: each question through the real retrieval and gate (no LLM),
  the reader reading the passages the model would be shown. Only questions
  that pass the gate count: that is where the reader has to decide. A question
  is labelled answerable when it is *and* a passage holding its answer is
  shown (as ``eval.calibrate`` labels its rows).

The calibration (P(answerable) from the answerable head and the span margin)
is fitted on the calibration half's retrieved passages, one row per shown
passage; thresholds are chosen there too. The test half is only scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from chatbot.adapters.reader import TransformerReader
from chatbot.answer.reading import Calibration, PassageReading
from eval.fitting import auc, choose_threshold, fit_logistic
from eval.items import EvalSet
from eval.metrics import exact_match, token_f1


@dataclass(frozen=True, slots=True)
class Scored:
    """One question's reader scores (the best passage's, where there are several)."""

    id: str
    answerable: bool  # the dataset's label
    holds: bool  # answerable and its passage was read
    logit: float
    margin: float
    probability: float
    span: str
    gold: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PassageRow:
    """One (question, shown passage) pair, for fitting the calibration."""

    logit: float
    margin: float
    label: int  # 1: answerable and this passage is a gold source


def _best(readings: Sequence[PassageReading], calibration: Calibration) -> tuple[int, float]:
    probabilities = [calibration.probability(r) for r in readings]
    best = max(range(len(readings)), key=probabilities.__getitem__)
    return best, probabilities[best]


def closed(
    reader: TransformerReader, eval_set: EvalSet, calibration: Calibration, progress: bool = True
) -> list[Scored]:
    """Every question against its own paragraph."""
    texts = {c.id: c.text for c in eval_set.contexts}
    rows = []
    for item in tqdm(eval_set.items, desc="closed", disable=not progress):
        reading = reader.score(item.question, [texts[item.context_ids[0]]])[0]
        rows.append(
            Scored(
                item.id,
                item.answerable,
                item.answerable,
                reading.answerable_logit,
                reading.margin,
                calibration.probability(reading),
                reading.span.text if reading.span else "",
                item.answers,
            )
        )
    return rows


def retrieved(
    reader: TransformerReader,
    eval_set: EvalSet,
    pipeline: Any,
    calibration: Calibration,
    progress: bool = True,
) -> tuple[list[Scored], list[PassageRow], int]:
    """Gate-passing questions with the passages they would be shown; also one
    row per shown passage, and how many questions the gate refused."""
    scored: list[Scored] = []
    passage_rows: list[PassageRow] = []
    refused = 0
    for item in tqdm(eval_set.items, desc="retrieved", disable=not progress):
        found = pipeline.examine(item.question)
        if found.refusal is not None or not found.shown:
            refused += 1
            continue
        readings = reader.score(item.question, [p.chunk.text for p in found.shown])
        gold = set(item.gold_sources)
        for passage, reading in zip(found.shown, readings, strict=True):
            passage_rows.append(
                PassageRow(
                    reading.answerable_logit,
                    reading.margin,
                    int(item.answerable and passage.chunk.source in gold),
                )
            )
        best, probability = _best(readings, calibration)
        holds = item.answerable and any(p.chunk.source in gold for p in found.shown)
        span = readings[best].span
        scored.append(
            Scored(
                item.id,
                item.answerable,
                holds,
                readings[best].answerable_logit,
                readings[best].margin,
                probability,
                span.text if span else "",
                item.answers,
            )
        )
    return scored, passage_rows, refused


def fit_calibration(rows: Sequence[PassageRow]) -> Calibration:
    """Logistic P(answerable) on the two reader scores, per shown passage."""
    model = fit_logistic(
        [{"logit": r.logit, "margin": r.margin} for r in rows],
        [r.label for r in rows],
        names=("logit", "margin"),
    )
    w_logit = model.weights[0] / model.scale[0]
    w_margin = model.weights[1] / model.scale[1]
    bias = model.bias - w_logit * model.mean[0] - w_margin * model.mean[1]
    return Calibration(w_logit=w_logit, w_margin=w_margin, bias=bias)


def aucs(rows: Sequence[Scored], label: str = "answerable") -> dict[str, float]:
    labels = [int(getattr(r, label)) for r in rows]
    return {
        "answerable_head": auc([r.logit for r in rows], labels),
        "span_margin": auc([r.margin for r in rows], labels),
        "calibrated": auc([r.probability for r in rows], labels),
    }


def squad_scores(rows: Sequence[Scored], threshold: float) -> dict[str, float]:
    """SQuAD 2.0 scoring: no answer predicted below ``threshold``."""
    em = f1 = 0.0
    has_correct = no_correct = has = no = 0
    for r in rows:
        predicted = r.span if r.probability >= threshold else ""
        if r.answerable:
            has += 1
            if predicted:
                has_correct += 1
                em += max(exact_match(predicted, g) for g in r.gold)
                f1 += max(token_f1(predicted, g) for g in r.gold)
        else:
            no += 1
            if not predicted:
                no_correct += 1
                em += 1
                f1 += 1
    n = max(1, len(rows))
    return {
        "questions": len(rows),
        "em": 100 * em / n,
        "f1": 100 * f1 / n,
        "has_answer_answered": has_correct / max(1, has),
        "no_answer_refused": no_correct / max(1, no),
    }


def threshold_for_recall(rows: Sequence[Scored], recall: float, label: str = "holds") -> float:
    """Highest threshold keeping ``recall`` of the label-1 questions."""
    labels = [int(bool(getattr(r, label))) for r in rows]
    return choose_threshold([r.probability for r in rows], labels, recall)


def threshold_for_precision(
    rows: Sequence[Scored], precision: float, label: str = "holds"
) -> float:
    """Lowest threshold above which at least ``precision`` of questions are label 1."""
    ranked = sorted(rows, key=lambda r: r.probability, reverse=True)
    chosen = 1.0
    good = 0
    for count, row in enumerate(ranked, start=1):
        good += int(getattr(row, label))
        if good / count >= precision:
            chosen = row.probability
    return chosen


def share_at_least(
    rows: Sequence[Scored], threshold: float, label: str | None = None, value: bool = True
) -> float:
    chosen = [r for r in rows if label is None or bool(getattr(r, label)) is value]
    return sum(r.probability >= threshold for r in chosen) / max(1, len(chosen))


def trade_off(rows: Sequence[Scored], label: str = "holds") -> list[dict[str, float]]:
    """For thresholds 0.05..0.95: the share of questions at or above each, how
    many of those are label 1 (precision), and how many label-1 questions
    fall below it (what refusing there would cost)."""
    table = []
    positives = max(1, sum(bool(getattr(r, label)) for r in rows))
    for step in range(1, 20):
        threshold = step / 20
        above = [r for r in rows if r.probability >= threshold]
        good = sum(bool(getattr(r, label)) for r in above)
        table.append(
            {
                "threshold": threshold,
                "share_above": len(above) / max(1, len(rows)),
                "precision_above": good / len(above) if above else float("nan"),
                "label1_kept": good / positives,
            }
        )
    return table
