"""The answering pipeline: validate ▶ condense ▶ scope ▶ examine ▶ period ▶ read ▶ generate ▶
check ▶ present.

``Pipeline.answer(question, history, audience=...)`` returns ``Answer | Refusal``;
``Pipeline.stream`` yields ``Draft`` events while the model writes, then
exactly one outcome. Every step sees only what the question's ``Audience``
(``chatbot.access``) may see: retrieval is restricted to it, and so are the
periods a refusal names. The steps, each a method named after it:

1. **validate**: an empty or oversized question is ``invalid_question``; an
   audience with no group at all is ``no_access``;
2. **condense**: with conversation history, a follow-up is rewritten into a
   standalone question (``chatbot.answer.conversation``); every later step sees only
   that question, never earlier answers or their passages, so the
   conversation cannot widen what may be answered;
3. **scope**: requests that are not questions about the documents are
   ``out_of_scope`` (``chatbot.answer.scope``);
4. **examine**: retrieve (``chatbot.answer.retrieval``) with passages of the asked
   period first and superseded versions set aside (``chatbot.answer.periods``), and
   gate, with no LLM call: fixed thresholds (``no_evidence``), then the
   calibrated answerability model (``weak_evidence``);
5. **period**: a year the question names that no document's period covers
   and no shown passage states is ``period_not_covered``, and the message
   says which years the documents cover; this comes before the gate's own
   refusal, whose message would be less precise;
6. **read**: for languages it covers, the trained answerability reader
   (``chatbot.answer.reading``) reads the question against every shown passage; a
   low P(answerable) is ``not_in_passages``, still with no LLM call;
7. **generate**: the numbered passages and the question go to the LLM, whose
   text streams as drafts (unverified: channels must present them as such);
   with back-pressure on (``chatbot.admission``), the answer and its support
   check first wait for one of the LLM's places (as does a follow-up's
   rewrite), and a question that gets none in time raises ``BusyError``;
8. **check**: the verifier (``chatbot.answer.verify``) ties every sentence to a
   passage it cites; then, unless the reader was confident and the answer
   cites the passage holding its span and carries the span, the support judge
   (``chatbot.answer.judge``) asks whether those passages state the answer and for
   the phrase that does;
9. **present**: loosely worded sentences are shown in the passages' own
   words, in the question's script.

A refusal is a normal result. Only faults raise, all of them
``BoundaryError``: the generator's (``GeneratorError``), the embedder's
(``EmbedderError``), the reranker's (``RerankerError``), a missing index,
and an LLM too busy to take the question (``BusyError``).
Those are faults to report, not answers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace

from chatbot.access import PUBLIC, Audience
from chatbot.admission import Admission, no_limit
from chatbot.answer.answerability import Calibration
from chatbot.answer.conversation import Turn, condense, needs_context
from chatbot.answer.gate import assess, weak_evidence
from chatbot.answer.judge import AnswerCall, SupportJudge
from chatbot.answer.periods import (
    asked_version,
    asked_years,
    describe_coverage,
    in_force,
    prefer_periods,
    uncovered_years,
)
from chatbot.answer.prompts import build_messages, question_language, select_passages
from chatbot.answer.quote import quote_weak_sentences
from chatbot.answer.reading import ReaderPolicy, Reading, agrees
from chatbot.answer.retrieval import retrieve
from chatbot.answer.scope import out_of_scope
from chatbot.answer.steps import Asked, Checked, Draft, Examination, Rejection, Stopwatch
from chatbot.answer.verify import verify
from chatbot.domain import Answer, Outcome, Passage, Refusal, RefusalReason, Timings
from chatbot.messages import refusal_message
from chatbot.protocols import (
    ChatMessage,
    Embedder,
    Generator,
    KeywordIndex,
    PeriodIndex,
    Reader,
    Reranker,
    VectorIndex,
)
from chatbot.settings import GateSettings, RetrievalSettings
from chatbot.text import in_question_script

log = logging.getLogger(__name__)


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
        reader: Reader | None = None,
        reader_policy: ReaderPolicy | None = None,
        periods: PeriodIndex | None = None,
        admission: Admission | None = None,
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
        self.reader = reader
        self.reader_policy = reader_policy
        self.periods = periods
        self.admission = admission
        if reader is not None and reader_policy is None:
            raise ValueError("a reader needs a ReaderPolicy (its thresholds)")
        # the fixed thresholds per language, derived once (see _gate_for)
        self._gates: dict[str, GateSettings] = {}
        self._sealed = True

    def __setattr__(self, name: str, value: object) -> None:
        # Immutable once built: a changed part means a new pipeline
        # (compose.build_pipeline), so nothing derived from the parts goes stale.
        if getattr(self, "_sealed", False):
            raise AttributeError(f"Pipeline is immutable; build a new one to change {name!r}")
        object.__setattr__(self, name, value)

    def answer(
        self, question: str, history: Sequence[Turn] = (), *, audience: Audience = PUBLIC
    ) -> Outcome:
        """Answer ``question`` from the corpus, or refuse and say why.

        ``history`` holds the earlier turns of the conversation, oldest first;
        it is only used to make a follow-up self-contained. Only documents
        ``audience`` may see are used; the default is those open to everyone."""
        outcome: Outcome | None = None
        for event in self.stream(question, history, audience=audience):
            if not isinstance(event, Draft):
                outcome = event
        assert outcome is not None  # stream always ends with an outcome
        return outcome

    def stream(
        self, question: str, history: Sequence[Turn] = (), *, audience: Audience = PUBLIC
    ) -> Iterator[Draft | Outcome]:
        """Drafts while the model writes, then exactly one outcome.

        The steps, in order: validate ▶ condense ▶ scope ▶ examine (retrieve
        and gate) ▶ period ▶ read ▶ generate ▶ check (verify, judge) ▶
        present (quote, script).
        Each step that can refuse returns a ``Rejection``; the first one ends
        the question."""
        language = question_language(question or "")
        invalid = self._validate(question, language, audience)
        if invalid is not None:
            yield invalid
            return
        clock = Stopwatch()
        with clock.step("condense_s"):
            asked = self._condense(question, language, history)
        scope = out_of_scope(asked.query)
        if scope is not None:
            yield self._refuse(asked, Rejection(RefusalReason.OUT_OF_SCOPE, scope), clock)
            return
        with clock.step("retrieve_s"):
            found = self.examine(asked.query, audience)
        uncovered = self._period(asked, found, audience)
        if uncovered is not None:
            yield self._refuse(asked, uncovered, clock, found)
            return
        if found.refusal is not None:
            reason, why = found.refusal
            rejected = Rejection(reason, f"{why}; {found.evidence.describe()}")
            yield self._refuse(asked, rejected, clock, found)
            return
        with clock.step("read_s"):
            found, reading, unread = self._read(asked, found)
        if unread is not None:
            yield self._refuse(asked, unread, clock, found)
            return
        messages = build_messages(asked.query, found.shown)
        draft = ""
        with ExitStack() as held:
            # One LLM place for the answer and its support check, so a question
            # that got to write is not turned away half-way.
            with clock.step("queue_s"):
                held.enter_context(self._place())
            with clock.step("generate_s"):
                for delta in self.generator.stream(messages):
                    draft += delta
                    yield Draft(draft)
            with clock.step("verify_s"):
                checked = self._check(asked, found.shown, messages, draft, reading)
        if isinstance(checked, Rejection):
            yield self._refuse(asked, checked, clock, found, llm_called=True)
            return
        yield self._present(asked, found, checked, clock.timings())

    def _condense(self, question: str, language: str, history: Sequence[Turn]) -> Asked:
        """Make a follow-up self-contained. From here on only that standalone
        question counts: it is what is retrieved for, gated, prompted and
        verified, so the conversation cannot widen what may be answered."""
        if history and needs_context(question):
            with self._place():  # the rewrite is an LLM call
                query = condense(
                    question, history, self.generator, max_chars=self.max_question_chars
                )
        else:
            query = question
        # Recorded whenever there was history, even if unchanged, so the audit
        # shows what a follow-up was understood as.
        return Asked(question, language, query, query if history else None)

    def _place(self) -> AbstractContextManager[None]:
        """A place in front of the LLM (``chatbot.admission``); raises
        ``BusyError`` when none comes in time. Only LLM calls take one."""
        return self.admission.place() if self.admission is not None else no_limit()

    def _period(self, asked: Asked, found: Examination, audience: Audience) -> Rejection | None:
        """``period_not_covered`` when the question names a year that no
        document's period covers and no shown passage states
        (``chatbot.answer.periods.uncovered_years``): the premise check would refuse
        any answer about it, so say so now, with the years that are covered."""
        if self.periods is None or not found.years:
            return None
        covered = self.periods.periods(audience)
        missing = uncovered_years(found.years, covered, found.shown)
        if not missing:
            return None
        span = describe_coverage(covered)
        return Rejection(
            RefusalReason.PERIOD_NOT_COVERED,
            f"asked about {', '.join(missing)}; the documents cover {span} and no shown "
            f"passage states it; {found.evidence.describe()}",
            {"covered": span, "asked": ", ".join(missing)},
        )

    def _read(
        self, asked: Asked, found: Examination
    ) -> tuple[Examination, Reading | None, Rejection | None]:
        """The reader's verdict on the shown passages (where it covers the
        question's language), recorded in the evidence; a Rejection when
        P(answerable) is below the policy's threshold."""
        policy = self.reader_policy
        if self.reader is None or policy is None or not policy.applies(found.evidence.language):
            return found, None, None
        reading = self.reader.read(asked.query, found.shown)
        found = replace(found, evidence=replace(found.evidence, reader=reading.p_answerable))
        log.info("reader P(answerable)=%.3f span=%r", reading.p_answerable, reading.span)
        if reading.p_answerable >= policy.reject_below:
            return found, reading, None
        why = (
            f"the reader found no answer in the shown passages (P(answerable)="
            f"{reading.p_answerable:.2f} below {policy.reject_below:.2f}; best span "
            f"{reading.span!r}); {found.evidence.describe()}"
        )
        return found, reading, Rejection(RefusalReason.NOT_IN_PASSAGES, why)

    def _check(
        self,
        asked: Asked,
        shown: Sequence[Passage],
        messages: Sequence[ChatMessage],
        draft: str,
        reading: Reading | None = None,
    ) -> Rejection | Checked:
        """Verify the draft sentence by sentence against the passages it cites
        (``chatbot.answer.verify``); then, unless a confident reading agrees with
        the answer, ask the judge whether those passages state the answer, and
        for the phrase that does."""
        verdict = verify(draft, shown, self.gate.min_support, asked.query)
        quoted = f"draft={draft[:300]!r}"
        if verdict.failure is not None:
            return Rejection(verdict.failure, f"{verdict.detail}; {quoted}")
        cited = list({c.passage.id: c.passage for c in verdict.citations}.values())
        cited_ids = {p.id for p in cited}
        agreed = reading is not None and agrees(reading, verdict.text, cited_ids)
        policy = self.reader_policy
        confident = (
            reading is not None
            and policy is not None
            and (self.judge is None or reading.p_answerable >= policy.confident_above)
        )
        if agreed and confident and reading is not None:
            return Checked(verdict, reading.span)
        if self.judge is None:
            return Checked(verdict, None)
        numbers = tuple(n for n, p in enumerate(shown, 1) if p.id in cited_ids)
        call = AnswerCall(messages, draft, numbers)
        judgement = self.judge.judge(asked.query, verdict.text, cited, answer_call=call)
        if not judgement.supported:
            detail = f"support judge: {judgement.detail}; {quoted}"
            return Rejection(RefusalReason.UNSUPPORTED, detail)
        return Checked(verdict, judgement.short_answer, judged=True)

    def _present(
        self, asked: Asked, found: Examination, checked: Checked, timings: Timings
    ) -> Answer:
        """The checked answer as staff see it: sentences the passages back only
        loosely are shown in the passage's own words
        (``quote.quote_weak_sentences``), and the text is in the question's
        script while keeping the passages' own characters."""
        shown, span = found.shown, checked.span
        reference = _texts(shown)
        quoted = quote_weak_sentences(checked.verdict.text, shown, asked.query, span)
        log.info(
            "answered with citations %s (%d re-pointed, %d dropped, %d quoted)",
            [c.number for c in quoted.citations],
            checked.verdict.reattributed + quoted.repointed,
            checked.verdict.dropped,
            quoted.quoted,
        )
        return Answer(
            text=in_question_script(quoted.text, asked.query, reference),
            citations=quoted.citations,
            passages=tuple(shown),
            model=self.generator.model_name,
            timings=timings,
            evidence=found.evidence,
            standalone_question=asked.standalone,
            short_answer=in_question_script(span, asked.query, reference) if span else None,
            judge_called=checked.judged,
        )

    def _refuse(
        self,
        asked: Asked,
        rejected: Rejection,
        clock: Stopwatch,
        found: Examination | None = None,
        *,
        llm_called: bool = False,
    ) -> Refusal:
        """The one refusal builder for the scope, gate, verifier and judge."""
        log.info("refused (%s): %s", rejected.reason.value, rejected.detail)
        return Refusal(
            reason=rejected.reason,
            message=refusal_message(rejected.reason, asked.language, **rejected.values),
            passages=tuple(found.shown) if found is not None else (),
            detail=rejected.detail,
            timings=clock.timings(),
            llm_called=llm_called,
            evidence=found.evidence if found is not None else None,
            standalone_question=asked.standalone,
        )

    def examine(self, query: str, audience: Audience = PUBLIC) -> Examination:
        """Retrieve for ``query`` from what ``audience`` may see and run the
        gate, with no LLM call.

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
            audience=audience,
            reranker=self.reranker,
        )
        years = asked_years(query)
        candidates, superseded = in_force(
            prefer_periods(candidates, years), years, asked_version(query)
        )
        if superseded:
            log.info(
                "set aside %d passages of superseded versions: %s",
                len(superseded),
                sorted({p.chunk.context.label for p in superseded}),
            )
        shown = select_passages(
            candidates, self.retrieval.max_passages, self.retrieval.passage_token_budget
        )
        evidence = assess(query, shown, candidates, self.keywords)
        fixed = weak_evidence(evidence, self._gate_for(evidence.language))
        if fixed is not None:
            return Examination(
                candidates, shown, evidence, (RefusalReason.NO_EVIDENCE, fixed), years
            )
        if self.calibration is None or not self.gate.answerability:
            return Examination(candidates, shown, evidence, None, years)
        scored = self.calibration.score(query, evidence)
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

    def _gate_for(self, language: str) -> GateSettings:
        """The fixed thresholds, with the calibration's learned ones for
        ``language`` in place of the configured ones where it has them;
        derived once per language (the pipeline's parts never change)."""
        derived = self._gates.get(language)
        if derived is None:
            derived = self._gates[language] = self._derive_gate(language)
        return derived

    def _derive_gate(self, language: str) -> GateSettings:
        if self.calibration is None or not self.gate.answerability:
            return self.gate
        update = self.calibration.gate_overrides(language)
        return self.gate.model_copy(update=update) if update else self.gate

    def _validate(self, question: str, language: str, audience: Audience) -> Refusal | None:
        if audience.empty:
            return Refusal(
                reason=RefusalReason.NO_ACCESS,
                message=refusal_message(RefusalReason.NO_ACCESS, language),
                detail="the asker's audience holds no group",
            )
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
