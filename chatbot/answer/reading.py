"""The answerability reader's decision, independent of the model that scores.

A reader reads the question against each shown passage and gives, per token,
a score for "the answer starts here" and "ends here", plus a no-answer score
(SQuAD 2.0 style: the answer may be "none of this"). This module turns those
scores into a ``Reading``: the best span, the passage it is in, and
P(answerable) from a small logistic calibration fitted on held-out data. It
imports no vendor library, so the rules are testable on tiny inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.domain import Passage
from chatbot.text import content_terms


@dataclass(frozen=True, slots=True)
class Span:
    """The best answer span found in one passage."""

    start: int  # character offsets into the passage text
    end: int
    score: float  # start logit + end logit
    text: str


@dataclass(frozen=True, slots=True)
class PassageReading:
    """What the reader found in one passage."""

    span: Span | None  # None when no token may start an answer (empty passage)
    null_score: float  # no-answer logit pair at the [CLS] position
    answerable_logit: float  # the classification head: > 0 leans answerable

    @property
    def margin(self) -> float:
        """Best span score minus the no-answer score (SQuAD 2.0 readers' test)."""
        return (self.span.score if self.span else -1e4) - self.null_score


@dataclass(frozen=True, slots=True)
class Calibration:
    """P(answerable) = sigmoid(w_logit * answerable_logit + w_margin * margin + bias)."""

    w_logit: float = 1.0
    w_margin: float = 0.0
    bias: float = 0.0

    def of(self, answerable_logit: float, margin: float) -> float:
        """P(answerable) from the two reader scores."""
        z = self.w_logit * answerable_logit + self.w_margin * margin + self.bias
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def probability(self, reading: PassageReading) -> float:
        return self.of(reading.answerable_logit, reading.margin)


@dataclass(frozen=True, slots=True)
class Reading:
    """The reader's verdict over every shown passage."""

    p_answerable: float  # the best passage's probability
    passage: Passage | None  # the passage holding the best span
    span: str | None  # the best span's text
    per_passage: tuple[float, ...]  # P(answerable) for each shown passage, in order
    elapsed_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ReaderPolicy:
    """How the pipeline acts on a reading: refuse below ``reject_below``; at or
    above ``confident_above`` (and when the answer cites the span's passage and
    carries the span), the support judge's LLM call is skipped."""

    reject_below: float
    confident_above: float
    languages: frozenset[str] = frozenset({"en"})

    def applies(self, language: str) -> bool:
        return language in self.languages


def best_span(
    start_logits: Sequence[float],
    end_logits: Sequence[float],
    offsets: Sequence[tuple[int, int] | None],
    text: str,
    max_tokens: int = 30,
    top: int = 20,
) -> Span | None:
    """The highest-scoring span whose tokens all belong to the passage.

    ``offsets[i]`` is the character range of token ``i`` in ``text``, or None for
    tokens that are not passage text (question, special tokens, padding); a span
    must start and end on passage tokens, end at or after its start and be at
    most ``max_tokens`` long. Only the ``top`` best starts and ends are paired,
    which is exact whenever the best span's ends are among them.
    """
    allowed = [i for i, o in enumerate(offsets) if o is not None]
    if not allowed:
        return None
    starts = sorted(allowed, key=lambda i: start_logits[i], reverse=True)[:top]
    ends = sorted(allowed, key=lambda i: end_logits[i], reverse=True)[:top]
    best: tuple[float, int, int] | None = None
    for s in starts:
        for e in ends:
            if e < s or e - s + 1 > max_tokens:
                continue
            score = start_logits[s] + end_logits[e]
            if best is None or score > best[0]:
                best = (score, s, e)
    if best is None:
        return None
    score, s, e = best
    first, last = offsets[s], offsets[e]
    assert first is not None and last is not None
    return Span(first[0], last[1], score, text[first[0] : last[1]])


def combine(
    passages: Sequence[Passage],
    readings: Sequence[PassageReading],
    calibration: Calibration,
    elapsed_s: float = 0.0,
) -> Reading:
    """The verdict over all passages: the most probably answering passage wins."""
    if len(passages) != len(readings):
        raise ValueError("one reading per passage is required")
    probabilities = tuple(calibration.probability(r) for r in readings)
    if not probabilities:
        return Reading(0.0, None, None, (), elapsed_s)
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    span = readings[best].span
    return Reading(
        p_answerable=probabilities[best],
        passage=passages[best],
        # a span of punctuation alone ("." at a sentence end) is no answer
        span=span.text.strip() if span and any(c.isalnum() for c in span.text) else None,
        per_passage=probabilities,
        elapsed_s=elapsed_s,
    )


def agrees(reading: Reading, answer: str, cited_ids: set[str]) -> bool:
    """The answer cites the passage holding the reader's span and carries at
    least half of the span's content terms (all of them for a short span)."""
    if reading.span is None or reading.passage is None or reading.passage.id not in cited_ids:
        return False
    wanted = set(content_terms(reading.span))
    if not wanted:
        return reading.span.lower() in answer.lower()
    present = wanted & set(content_terms(answer))
    return len(present) >= (len(wanted) if len(wanted) <= 2 else len(wanted) / 2)
