"""The answering pipeline: (condense ▶) retrieve ▶ gate ▶ prompt ▶ generate ▶ verify.

``Pipeline.answer(question, history)`` returns ``Answer | Refusal``. With
conversation history, a follow-up is first rewritten into a standalone
question (``chatbot.conversation.condense``); every later step sees only that
question, never earlier answers or their passages, so the conversation cannot
widen what may be answered. ``stream`` yields
``Draft`` events while the model writes, then exactly one final outcome; the
draft is unverified and channels must present it as such (and replace it with
the outcome). A refusal is a normal result. Only generator failures
(``GeneratorError``) and missing indexes raise: those are faults to report,
not answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from chatbot.conversation import Turn, condense
from chatbot.domain import Answer, Outcome, Refusal, RefusalReason, Timings
from chatbot.gate import assess, weak_evidence
from chatbot.messages import refusal_message
from chatbot.prompts import build_messages, question_language, select_passages
from chatbot.protocols import Embedder, Generator, KeywordIndex, VectorIndex
from chatbot.retrieval import retrieve
from chatbot.settings import GateSettings, RetrievalSettings
from chatbot.verify import verify

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Draft:
    """Unverified text so far (the whole text, not a delta)."""

    text: str


class Pipeline:
    def __init__(
        self,
        embedder: Embedder,
        vectors: VectorIndex,
        keywords: KeywordIndex,
        generator: Generator,
        retrieval: RetrievalSettings,
        gate: GateSettings,
        max_question_chars: int = 2000,
    ) -> None:
        self.embedder = embedder
        self.vectors = vectors
        self.keywords = keywords
        self.generator = generator
        self.retrieval = retrieval
        self.gate = gate
        self.max_question_chars = max_question_chars

    def answer(self, question: str, history: Sequence[Turn] = ()) -> Outcome:
        """Answer ``question`` from the corpus, or refuse and say why.

        ``history`` holds the earlier turns of the conversation, oldest first;
        it is only used to make a follow-up self-contained."""
        outcome: Outcome | None = None
        for event in self.stream(question, history):
            if not isinstance(event, Draft):
                outcome = event
        assert outcome is not None  # stream always ends with an outcome
        return outcome

    def stream(self, question: str, history: Sequence[Turn] = ()) -> Iterator[Draft | Outcome]:
        language = question_language(question or "")
        invalid = self._validate(question, language)
        if invalid is not None:
            yield invalid
            return

        started = time.perf_counter()
        # From here on only the standalone question counts: it is what is
        # retrieved for, gated, prompted and verified.
        query = condense(question, history, self.generator, max_chars=self.max_question_chars)
        condense_s = time.perf_counter() - started
        # Recorded whenever there was history, even if unchanged, so the audit
        # shows what a follow-up was understood as.
        standalone = query if history else None

        started = time.perf_counter()
        candidates = retrieve(query, self.embedder, self.vectors, self.keywords, self.retrieval)
        shown = select_passages(
            candidates, self.retrieval.max_passages, self.retrieval.passage_token_budget
        )
        evidence = assess(query, shown, candidates, self.keywords)
        retrieve_s = time.perf_counter() - started
        weak = weak_evidence(evidence, self.gate)
        if weak is not None:
            log.info("refused (no_evidence): %s; %s", weak, evidence.describe())
            yield Refusal(
                reason=RefusalReason.NO_EVIDENCE,
                message=refusal_message(RefusalReason.NO_EVIDENCE, language),
                passages=tuple(shown),
                detail=f"{weak}; {evidence.describe()}",
                timings=Timings(retrieve_s=retrieve_s, condense_s=condense_s),
                evidence=evidence,
                standalone_question=standalone,
            )
            return

        messages = build_messages(query, shown)
        started = time.perf_counter()
        text = ""
        for delta in self.generator.stream(messages):
            text += delta
            yield Draft(text)
        generate_s = time.perf_counter() - started

        started = time.perf_counter()
        verdict = verify(text, shown, self.gate.min_support, query)
        timings = Timings(retrieve_s, generate_s, time.perf_counter() - started, condense_s)
        if verdict.failure is not None:
            log.info("refused (%s): %s", verdict.failure.value, verdict.detail)
            yield Refusal(
                reason=verdict.failure,
                message=refusal_message(verdict.failure, language),
                passages=tuple(shown),
                detail=f"{verdict.detail}; draft={text[:300]!r}",
                timings=timings,
                llm_called=True,
                evidence=evidence,
                standalone_question=standalone,
            )
            return
        log.info(
            "answered with citations %s (%d re-pointed)",
            [c.number for c in verdict.citations],
            verdict.reattributed,
        )
        yield Answer(
            text=verdict.text,
            citations=verdict.citations,
            passages=tuple(shown),
            model=self.generator.model_name,
            timings=timings,
            evidence=evidence,
            standalone_question=standalone,
        )

    def _validate(self, question: str, language: str) -> Refusal | None:
        stripped = (question or "").strip()
        if (
            stripped
            and len(stripped) <= self.max_question_chars
            and any(ch.isalnum() for ch in stripped)
        ):
            return None
        return Refusal(
            reason=RefusalReason.INVALID_QUESTION,
            message=refusal_message(
                RefusalReason.INVALID_QUESTION, language, limit=self.max_question_chars
            ),
            detail=f"question length {len(stripped)}",
        )
