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
from collections.abc import Generator as Steps
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace

from chatbot.access import PUBLIC, Audience
from chatbot.admission import Admission, no_limit
from chatbot.answer.answerability import Calibration
from chatbot.answer.conversation import Turn, condense, needs_context
from chatbot.answer.examine import Examiner
from chatbot.answer.judge import AnswerCall, SupportJudge
from chatbot.answer.periods import describe_coverage, uncovered_years
from chatbot.answer.prompts import build_messages
from chatbot.answer.question import Question
from chatbot.answer.quote import quote_weak_sentences
from chatbot.answer.reading import ReaderPolicy, Reading, agrees
from chatbot.answer.scope import out_of_scope
from chatbot.answer.steps import (
    Asked,
    Checked,
    Draft,
    Examination,
    Rejection,
    Screened,
    Stopwatch,
)
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
from chatbot.text import in_question_script, question_language

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
        self.examiner = Examiner(
            embedder, vectors, keywords, retrieval, gate, calibration, reranker
        )
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

        The steps, in order: validate ▶ condense ▶ screen (scope, examine,
        period, read: no LLM call) ▶ write (generate, check) ▶ present.
        Each step that can refuse gives a ``Rejection``; the first one ends
        the question."""
        language = question_language(question or "")
        invalid = self._validate(question, language, audience)
        if invalid is not None:
            yield invalid
            return
        clock = Stopwatch()
        with clock.step("condense_s"):
            asked = self._condense(question, language, history)
        screened = self._screen(asked, audience, clock)
        if screened.rejection is not None:
            yield self._refuse(asked, screened.rejection, clock, screened.found)
            return
        found = screened.found
        assert found is not None  # only a scope rejection comes without one
        checked = yield from self._write(asked, found, screened.reading, clock)
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
        return Asked(question, language, Question.of(query), query if history else None)

    def _screen(self, asked: Asked, audience: Audience, clock: Stopwatch) -> Screened:
        """The steps before any LLM call, in order: scope ▶ examine ▶ period ▶
        read. The first that rejects the question ends it."""
        scope = out_of_scope(asked.query.text)
        if scope is not None:
            return Screened(None, rejection=Rejection(RefusalReason.OUT_OF_SCOPE, scope))
        with clock.step("retrieve_s"):
            found = self.examine(asked.query, audience)
        rejection = self._period(asked, found, audience)
        if rejection is None and found.refusal is not None:
            reason, why = found.refusal
            rejection = Rejection(reason, f"{why}; {found.evidence.describe()}")
        if rejection is not None:
            return Screened(found, rejection=rejection)
        with clock.step("read_s"):
            return self._read(asked, found)

    def _write(
        self, asked: Asked, found: Examination, reading: Reading | None, clock: Stopwatch
    ) -> Steps[Draft, None, Checked | Rejection]:
        """generate ▶ check: the LLM writes from the numbered passages (each
        growing draft is yielded), then the draft is checked. One LLM place
        covers both, so a question that got to write is not turned away
        half-way through its support check."""
        messages = build_messages(asked.query, found.shown)
        draft = ""
        with ExitStack() as held:
            with clock.step("queue_s"):
                held.enter_context(self._place())
            with clock.step("generate_s"):
                for delta in self.generator.stream(messages):
                    draft += delta
                    yield Draft(draft)
            with clock.step("verify_s"):
                return self._check(asked, found.shown, messages, draft, reading)

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

    def _read(self, asked: Asked, found: Examination) -> Screened:
        """The reader's verdict on the shown passages (where it covers the
        question's language), recorded in the evidence; a Rejection when
        P(answerable) is below the policy's threshold."""
        policy = self.reader_policy
        if self.reader is None or policy is None or not policy.applies(found.evidence.language):
            return Screened(found)
        reading = self.reader.read(asked.query.text, found.shown)
        found = replace(found, evidence=replace(found.evidence, reader=reading.p_answerable))
        log.info("reader P(answerable)=%.3f span=%r", reading.p_answerable, reading.span)
        if reading.p_answerable >= policy.reject_below:
            return Screened(found, reading)
        why = (
            f"the reader found no answer in the shown passages (P(answerable)="
            f"{reading.p_answerable:.2f} below {policy.reject_below:.2f}; best span "
            f"{reading.span!r}); {found.evidence.describe()}"
        )
        return Screened(found, reading, Rejection(RefusalReason.NOT_IN_PASSAGES, why))

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
        verdict = verify(draft, shown, self.gate.min_support, asked.query.text)
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
        judgement = self.judge.judge(asked.query.text, verdict.text, cited, answer_call=call)
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
        quoted = quote_weak_sentences(checked.verdict.text, shown, asked.query.text, span)
        log.info(
            "answered with citations %s (%d re-pointed, %d dropped, %d quoted)",
            [c.number for c in quoted.citations],
            checked.verdict.reattributed + quoted.repointed,
            checked.verdict.dropped,
            quoted.quoted,
        )
        return Answer(
            text=in_question_script(quoted.text, asked.query.text, reference),
            citations=quoted.citations,
            passages=tuple(shown),
            model=self.generator.model_name,
            timings=timings,
            evidence=found.evidence,
            standalone_question=asked.standalone,
            short_answer=in_question_script(span, asked.query.text, reference) if span else None,
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

    def examine(self, query: str | Question, audience: Audience = PUBLIC) -> Examination:
        """Retrieve for ``query`` from what ``audience`` may see and run the
        gate, with no LLM call (``chatbot.answer.examine``)."""
        return self.examiner.examine(query, audience)

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
