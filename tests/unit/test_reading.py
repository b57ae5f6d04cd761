"""Span and no-answer decoding on tiny hand-made logits (chatbot.answer.reading)."""

from __future__ import annotations

import math

import pytest

from chatbot.adapters.reader import span_within_text
from chatbot.answer.reading import Calibration, PassageReading, Span, best_span, combine
from tests.builders import make_chunk

TEXT = "Paris is the capital of France."
# token 0 is [CLS], 1-2 the question, 3.. the passage words
OFFSETS = [None, None, None, (0, 5), (6, 8), (9, 12), (13, 20), (21, 23), (24, 30)]


def logits(**at: float) -> list[float]:
    values = [0.0] * len(OFFSETS)
    for key, value in at.items():
        values[int(key[1:])] = value
    return values


def test_best_span_takes_the_highest_start_plus_end() -> None:
    span = best_span(logits(t3=5.0, t8=1.0), logits(t3=4.0, t8=6.0), OFFSETS, TEXT)
    assert span == Span(0, 30, 11.0, "Paris is the capital of France")


def test_best_span_never_ends_before_it_starts_or_runs_too_long() -> None:
    # the best end (token 3) lies before the best start (token 8)
    span = best_span(logits(t8=5.0, t3=-10.0), logits(t3=9.0, t8=1.0), OFFSETS, TEXT)
    assert span is not None and span.text == "France"
    short = best_span(logits(t3=5.0), logits(t8=5.0, t3=1.0), OFFSETS, TEXT, max_tokens=2)
    assert short is not None and short.text == "Paris"


def test_best_span_ignores_question_and_special_tokens() -> None:
    span = best_span(logits(t1=50.0, t6=1.0), logits(t2=50.0, t6=1.0), OFFSETS, TEXT)
    assert span is not None and span.text == "capital"
    assert best_span([1.0, 2.0], [1.0, 2.0], [None, None], "") is None


def test_margin_and_calibrated_probability() -> None:
    reading = PassageReading(Span(0, 5, 3.0, "Paris"), null_score=1.0, answerable_logit=0.5)
    assert reading.margin == pytest.approx(2.0)
    calibration = Calibration(w_logit=2.0, w_margin=0.5, bias=-1.0)
    assert calibration.probability(reading) == pytest.approx(1 / (1 + math.exp(-1.0)))
    no_span = PassageReading(None, null_score=0.0, answerable_logit=0.0)
    assert Calibration(w_margin=1.0).probability(no_span) < 1e-6


def test_combine_picks_the_most_probable_passage() -> None:
    passages = [make_chunk(i, "a.pdf", 1, TEXT) for i in range(2)]
    from chatbot.domain import Passage

    shown = [Passage(c, 0.1) for c in passages]
    low = PassageReading(Span(0, 5, 1.0, "Paris"), 0.0, -3.0)
    high = PassageReading(Span(24, 30, 1.0, "France"), 0.0, 3.0)
    reading = combine(shown, [low, high], Calibration())
    assert reading.passage is shown[1] and reading.span == "France"
    assert reading.per_passage[0] < 0.1 < 0.9 < reading.per_passage[1]
    assert combine((), (), Calibration()).p_answerable == 0.0
    with pytest.raises(ValueError):
        combine(shown, [low], Calibration())


def test_spans_are_moved_out_of_the_context_line() -> None:
    # The reader reads "Banking Stability · 2023\n<text>"; spans index the text.
    header = len("Banking Stability · 2023\n")
    inside = PassageReading(Span(header + 4, header + 9, 3.0, "1.57%"), -1.0, 2.0)
    moved = span_within_text(inside, header)
    assert moved.span == Span(4, 9, 3.0, "1.57%") and moved.null_score == -1.0
    in_header = PassageReading(Span(0, 7, 3.0, "Banking"), -1.0, 2.0)
    assert span_within_text(in_header, header).span is None
    assert span_within_text(inside, 0) is inside
