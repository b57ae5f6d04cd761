"""The values the pipeline's steps hand each other (``chatbot.answer.pipeline``),
and the stopwatch that times them. Plain frozen data: no step logic here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from chatbot.answer.question import Question
from chatbot.answer.reading import Reading
from chatbot.answer.verify import Verdict
from chatbot.domain import Evidence, Passage, RefusalReason, Timings


@dataclass(frozen=True, slots=True)
class Draft:
    """Unverified text so far (the whole text, not a delta)."""

    text: str


@dataclass(frozen=True, slots=True)
class Examination:
    """What retrieval and the gate found for one question, before any LLM call."""

    candidates: list[Passage]
    shown: list[Passage]
    evidence: Evidence
    # (reason, why) when the question must be refused here; None to go on.
    refusal: tuple[RefusalReason, str] | None
    # The years the question names (``chatbot.answer.periods.asked_years``), by which
    # the candidates were ranked; the period step checks the same ones.
    years: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Asked:
    """The question as every step after condensing sees it: as typed, the
    language to reply in, and ``query``, the standalone form with its
    language and evidence units worked out once (``standalone`` is its text
    when there was history, for the audit; else None)."""

    question: str
    language: str
    query: Question
    standalone: str | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a step refuses the question (it becomes a ``Refusal``)."""

    reason: RefusalReason
    detail: str
    # Filled into the user-facing message (``messages.refusal_message``).
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Screened:
    """What the steps before any LLM call (scope, examine, period, read)
    found: the examination (None when the scope step refused first), the
    reader's verdict where it read, and the rejection that ends the question,
    if one did."""

    found: Examination | None
    reading: Reading | None = None
    rejection: Rejection | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    """A draft that passed verification (and the judge, with its span)."""

    verdict: Verdict
    span: str | None
    judged: bool = False  # the support judge's LLM call ran


class Stopwatch:
    """Seconds per step, by ``Timings`` field name."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self._seconds[name] = self._seconds.get(name, 0.0) + elapsed

    def timings(self) -> Timings:
        return Timings(**self._seconds)
