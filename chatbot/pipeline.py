"""The answering pipeline: (condense ▶) retrieve ▶ gate ▶ prompt ▶ generate ▶ verify.

``Pipeline.answer(question, history)`` returns ``Answer | Refusal``. With
conversation history, a follow-up is first rewritten into a standalone
question (``chatbot.conversation.condense``); every later step sees only that
question, never earlier answers or their passages, so the conversation cannot
widen what may be answered. ``stream`` yields
``Draft`` events while the model writes, then exactly one final outcome; the
draft is unverified and channels must present it as such (and replace it with
the outcome). A refusal is a normal result. Only faults raise, all of them
``BoundaryError``: the generator's (``GeneratorError``), the embedder's
(``EmbedderError``), the reranker's (``RerankerError``) and a missing index.
Those are faults to report, not answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from chatbot.answerability import Calibration
from chatbot.conversation import Turn, condense
from chatbot.domain import Answer, Evidence, Outcome, Passage, Refusal, RefusalReason, Timings
from chatbot.gate import assess, weak_evidence
from chatbot.judge import AnswerCall, SupportJudge
from chatbot.messages import refusal_message
from chatbot.prompts import build_messages, question_language, select_passages
from chatbot.protocols import Embedder, Generator, KeywordIndex, Reranker, VectorIndex
from chatbot.retrieval import retrieve
from chatbot.scope import out_of_scope
from chatbot.settings import GateSettings, RetrievalSettings
from chatbot.text import in_question_script
from chatbot.verify import quote_weak_sentences, verify

log = logging.getLogger(__name__)


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
        calibration: Calibration | None = None,
        reranker: Reranker | None = None,
        judge: SupportJudge | None = None,
    ) -> None:
        self.embedder = embedder
        self.vectors = vectors
        self.keywords = keywords
        self.generator = generator
        self.retrieval = retrieval
        self.gate = gate
        self.max_question_chars = max_question_chars
        self.calibration = calibration
        self.reranker = reranker
        self.judge = judge
        # language -> (gate, calibration) it was derived from, and the result
        self._gates: dict[str, tuple[GateSettings, Calibration | None, GateSettings]] = {}

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

        def refuse(
            reason: RefusalReason,
            detail: str,
            timings: Timings,
            passages: Sequence[Passage] = (),
            evidence: Evidence | None = None,
            llm_called: bool = False,
        ) -> Refusal:
            log.info("refused (%s): %s", reason.value, detail)
            return Refusal(
                reason=reason,
                message=refusal_message(reason, language),
                passages=tuple(passages),
                detail=detail,
                timings=timings,
                llm_called=llm_called,
                evidence=evidence,
                standalone_question=standalone,
            )

        scope = out_of_scope(query)
        if scope is not None:
            yield refuse(RefusalReason.OUT_OF_SCOPE, scope, Timings(condense_s=condense_s))
            return

        started = time.perf_counter()
        found = self.examine(query)
        shown, evidence = found.shown, found.evidence
        retrieve_s = time.perf_counter() - started
        if found.refusal is not None:
            reason, why = found.refusal
            timings = Timings(retrieve_s=retrieve_s, condense_s=condense_s)
            yield refuse(reason, f"{why}; {evidence.describe()}", timings, shown, evidence)
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
        draft = f"draft={text[:300]!r}"
        if verdict.failure is not None:
            detail = f"{verdict.detail}; {draft}"
            yield refuse(verdict.failure, detail, timings, shown, evidence, llm_called=True)
            return
        short_answer: str | None = None
        span: str | None = None
        reference = _texts(shown)  # keeps the passages' characters in the displayed script
        if self.judge is not None:
            cited = list({c.passage.id: c.passage for c in verdict.citations}.values())
            numbers = tuple(
                sorted({n for n, p in enumerate(shown, 1) if any(p.id == c.id for c in cited)})
            )
            call = AnswerCall(messages, text, numbers)
            judgement = self.judge.judge(query, verdict.text, cited, answer_call=call)
            timings = replace(timings, verify_s=time.perf_counter() - started)
            if not judgement.supported:
                detail = f"support judge: {judgement.detail}; {draft}"
                yield refuse(
                    RefusalReason.UNSUPPORTED, detail, timings, shown, evidence, llm_called=True
                )
                return
            span = judgement.short_answer
            if span is not None:
                short_answer = in_question_script(span, query, reference)
        # Sentences whose wording the passages back only loosely are shown in
        # the passage's own words (verify.quote_weak_sentences).
        shown_text = quote_weak_sentences(verdict.text, shown, query, span)
        log.info(
            "answered with citations %s (%d re-pointed, %d dropped, %d quoted)",
            [c.number for c in shown_text.citations],
            verdict.reattributed + shown_text.repointed,
            verdict.dropped,
            shown_text.quoted,
        )
        yield Answer(
            text=in_question_script(shown_text.text, query, reference),
            citations=shown_text.citations,
            passages=tuple(shown),
            model=self.generator.model_name,
            timings=timings,
            evidence=evidence,
            standalone_question=standalone,
            short_answer=short_answer,
        )

    def examine(self, query: str) -> Examination:
        """Retrieve for ``query`` and run the gate, with no LLM call.

        First the fixed thresholds (``GateSettings``, or the calibration's
        learned ones for the question's language): failing them is
        no_evidence. Then, where a calibrated answerability model covers the
        language, a probability below its threshold is weak_evidence."""
        candidates = retrieve(
            query,
            self.embedder,
            self.vectors,
            self.keywords,
            self.retrieval,
            reranker=self.reranker,
        )
        shown = select_passages(
            candidates, self.retrieval.max_passages, self.retrieval.passage_token_budget
        )
        evidence = assess(query, shown, candidates, self.keywords)
        fixed = weak_evidence(evidence, self._gate_for(evidence.language))
        if fixed is not None:
            return Examination(candidates, shown, evidence, (RefusalReason.NO_EVIDENCE, fixed))
        if self.calibration is None or not self.gate.answerability:
            return Examination(candidates, shown, evidence, None)
        scored = self.calibration.score(query, evidence)
        if scored is None:  # no model for this language
            return Examination(candidates, shown, evidence, None)
        probability, threshold = scored
        evidence = replace(evidence, answerability=probability)
        if probability >= threshold:
            return Examination(candidates, shown, evidence, None)
        why = (
            f"passages found but probably not holding the answer "
            f"(P(answerable)={probability:.2f} below the calibrated {threshold:.2f})"
        )
        return Examination(candidates, shown, evidence, (RefusalReason.WEAK_EVIDENCE, why))

    def _gate_for(self, language: str) -> GateSettings:
        """The fixed thresholds, with the calibration's learned ones for
        ``language`` in place of the configured ones where it has them;
        derived once per language (again if ``gate`` or ``calibration`` is
        replaced)."""
        cached = self._gates.get(language)
        if cached is not None and cached[0] is self.gate and cached[1] is self.calibration:
            return cached[2]
        derived = self._derive_gate(language)
        self._gates[language] = (self.gate, self.calibration, derived)
        return derived

    def _derive_gate(self, language: str) -> GateSettings:
        if self.calibration is None or not self.gate.answerability:
            return self.gate
        floors = self.calibration.floors_for(language)
        if not floors:
            return self.gate
        zh = language == "zh"
        update: dict[str, float] = {}
        if "min_coverage" in floors:
            update["min_term_coverage_cjk" if zh else "min_term_coverage"] = floors["min_coverage"]
        if "min_dense" in floors:
            update["min_dense_score_cjk" if zh else "min_dense_score"] = floors["min_dense"]
        return self.gate.model_copy(update=update)

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


def _texts(passages: Sequence[Passage]) -> str:
    return "\n".join(p.chunk.text for p in passages)
