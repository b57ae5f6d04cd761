"""The examine step: retrieve, rank by period and version, and gate, with no LLM call.

``Examiner.examine`` is everything the answering pipeline does before it
knows whether the LLM may be asked: hybrid retrieval (``retrieval``) from
what the audience may see, passages of the asked period first and superseded
versions set aside (``periods``), the passages the model would be shown
(``prompts.select_passages``), the evidence gate's fixed thresholds
(``gate``: ``no_evidence``) and then the calibrated answerability model
(``answerability``: ``below_thresholds``). Calibration, evaluation of the reader
and the gate benchmarks use it on its own (``compose.build_examiner``).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from chatbot.access import PUBLIC, Audience
from chatbot.answer.answerability import Calibration
from chatbot.answer.gate import assess, below_thresholds
from chatbot.answer.periods import asked_version, asked_years, in_force, prefer_periods
from chatbot.answer.prompts import select_passages
from chatbot.answer.question import Question
from chatbot.answer.retrieval import retrieve
from chatbot.answer.steps import Examination
from chatbot.domain import RefusalReason
from chatbot.protocols import Embedder, KeywordIndex, Reranker, VectorIndex
from chatbot.settings import GateSettings, RetrievalSettings

log = logging.getLogger(__name__)


class Examiner:
    """Retrieval and the gate for one corpus; immutable once built."""

    def __init__(
        self,
        embedder: Embedder,
        vectors: VectorIndex,
        keywords: KeywordIndex,
        retrieval: RetrievalSettings,
        gate: GateSettings,
        calibration: Calibration | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self._embedder = embedder
        self._vectors = vectors
        self._keywords = keywords
        self._retrieval = retrieval
        self._gate = gate
        self._calibration = calibration
        self._reranker = reranker
        # The fixed thresholds per language, derived once (see thresholds_for): the
        # parts never change after construction.
        self._gates: dict[str, GateSettings] = {}

    def examine(self, query: str | Question, audience: Audience = PUBLIC) -> Examination:
        """Retrieve for ``query`` from what ``audience`` may see and run the
        gate, with no LLM call.

        First the fixed thresholds (``GateSettings``, or the calibration's
        learned ones for the question's language): failing them is
        no_evidence. Then, where a calibrated answerability model covers the
        language, a probability below its threshold is below_thresholds."""
        question = query if isinstance(query, Question) else Question.of(query)
        candidates = retrieve(
            question,
            self._embedder,
            self._vectors,
            self._keywords,
            self._retrieval,
            audience=audience,
            reranker=self._reranker,
        )
        years = asked_years(question.text)
        candidates, superseded = in_force(
            prefer_periods(candidates, years), years, asked_version(question.text)
        )
        if superseded:
            log.info(
                "set aside %d passages of superseded versions: %s",
                len(superseded),
                sorted({p.chunk.context.label for p in superseded}),
            )
        shown = select_passages(
            candidates, self._retrieval.max_passages, self._retrieval.passage_token_budget
        )
        evidence = assess(question, shown, candidates, self._keywords)
        fixed = below_thresholds(evidence, self.thresholds_for(evidence.language))
        if fixed is not None:
            return Examination(
                candidates, shown, evidence, (RefusalReason.NO_EVIDENCE, fixed), years
            )
        if self._calibration is None or not self._gate.answerability:
            return Examination(candidates, shown, evidence, None, years)
        scored = self._calibration.score(question, evidence)
        if scored is None:  # no model for this language
            return Examination(candidates, shown, evidence, None, years)
        probability, threshold = scored
        evidence = replace(evidence, answerability=probability)
        if probability >= threshold:
            return Examination(candidates, shown, evidence, None, years)
        why = (
            f"passages found but probably not holding the answer "
            f"(P(answerable)={probability:.2f} below the calibrated {threshold:.2f})"
        )
        return Examination(candidates, shown, evidence, (RefusalReason.WEAK_EVIDENCE, why), years)

    def thresholds_for(self, language: str) -> GateSettings:
        """The fixed thresholds, with the calibration's learned ones for
        ``language`` in place of the configured ones where it has them."""
        derived = self._gates.get(language)
        if derived is None:
            derived = self._gates[language] = self._derive_gate(language)
        return derived

    def _derive_gate(self, language: str) -> GateSettings:
        if self._calibration is None or not self._gate.answerability:
            return self._gate
        update = self._calibration.gate_overrides(language)
        return self._gate.model_copy(update=update) if update else self._gate
