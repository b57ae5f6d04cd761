"""What every channel calls: ask the pipeline, record the outcome, take feedback.

``Assistant`` joins the answering pipeline and the audit store so channel
handlers stay thin: they pass the question and who asked (a ``Principal``,
and for a shared conversation the narrower ``Audience``), and render the
``Recorded`` outcome they get back. Faults still raise as ``BoundaryError``s
(the LLM down, hung or writing garbage, the LLM too busy to take the question,
the embedder or the reranker failing: faults, not outcomes); each is written
to the audit trail's ``failures`` table before it is raised again, and each
channel turns it into one sentence.

It also keeps each conversation's last turns (``ConversationMemory``, keyed
by the channel's conversation id: the Gradio session, the Slack channel and
thread, the Teams conversation, the API caller's ``conversation_id``) so the
pipeline can resolve follow-ups. An empty conversation id means a one-off
question with no memory. Memory is also kept apart per asker and audience:
in a shared Slack thread one member's follow-up is never rewritten from
another member's answer, which may come from documents the first cannot see.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatbot.access import Audience, Principal
from chatbot.answer.conversation import ConversationMemory, Turn
from chatbot.answer.pipeline import Draft, Pipeline
from chatbot.audit import (
    AuditStore,
    Channel,
    Denial,
    Failure,
    interaction_from,
    new_id,
    settings_version,
)
from chatbot.domain import Answer, Outcome, Refusal, RefusalReason
from chatbot.errors import BoundaryError, fault_kind

if TYPE_CHECKING:
    from chatbot.compose import Stores
    from chatbot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A pipeline outcome and the id of its audit row (None when auditing is off)."""

    outcome: Outcome
    interaction_id: str | None


class Assistant:
    def __init__(
        self,
        pipeline: Pipeline,
        audit: AuditStore | None,
        memory: ConversationMemory | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.audit = audit
        self.memory = memory if memory is not None else ConversationMemory()
        self.settings_version = settings_version(pipeline.retrieval, pipeline.gate)

    def close(self) -> None:
        """At shutdown: release the audit store, the LLM places shared with
        other replicas (``CHATBOT_LLM__ADMISSION=postgres``: its sessions
        end, so their advisory locks free at once), the generator's client
        and both indexes' connections. Best effort: a part that fails to
        close is logged and the others still close."""
        pipeline = self.pipeline
        parts = (self.audit, pipeline.admission, pipeline.generator)
        for part in (*parts, pipeline.keywords, pipeline.vectors):
            close = getattr(part, "close", None)
            if not callable(close):
                continue
            try:
                close()
            except Exception as exc:  # shutting down: report, carry on
                log.warning("could not close %s at shutdown: %s", type(part).__name__, exc)

    def ask(
        self,
        question: str,
        *,
        channel: Channel,
        principal: Principal,
        audience: Audience | None = None,
        conversation_id: str = "",
    ) -> Recorded:
        """Answer or refuse ``question`` and record it; raises ``BoundaryError``
        (e.g. ``GeneratorError``, ``EmbedderError``, ``RerankerError``) on faults.
        ``audience`` defaults to everything ``principal`` may see."""
        recorded: Recorded | None = None
        for event in self.stream(
            question,
            channel=channel,
            principal=principal,
            audience=audience,
            conversation_id=conversation_id,
        ):
            if isinstance(event, Recorded):
                recorded = event
        assert recorded is not None  # the pipeline's stream always ends with an outcome
        return recorded

    def stream(
        self,
        question: str,
        *,
        channel: Channel,
        principal: Principal,
        audience: Audience | None = None,
        conversation_id: str = "",
    ) -> Iterator[Draft | Recorded]:
        """Drafts while the model writes, then exactly one ``Recorded``."""
        started = time.perf_counter()
        audience = audience if audience is not None else Audience.of(principal)
        memory_key = _memory_key(conversation_id, principal, audience)
        history = self.memory.history(memory_key)
        outcome: Outcome | None = None
        try:
            for event in self.pipeline.stream(question, history, audience=audience):
                if isinstance(event, Draft):
                    yield event
                    continue
                outcome = event
        except BoundaryError as exc:
            self._record_failure(
                exc, question, channel, principal, conversation_id, time.perf_counter() - started
            )
            raise
        assert outcome is not None  # the pipeline's stream always ends with an outcome
        self._remember(memory_key, question, outcome)
        yield Recorded(
            outcome,
            self._record(
                outcome,
                question,
                channel,
                principal,
                audience,
                conversation_id,
                time.perf_counter() - started,
            ),
        )

    def forget(self, conversation_id: str, principal: Principal) -> None:
        """Drop ``principal``'s turns in a conversation (they started over)."""
        self.memory.forget_prefix(_memory_key(conversation_id, principal, None))

    def deny(
        self, channel: Channel, who: str, groups: frozenset[str], action: str, why: str
    ) -> None:
        """Record a refused request (a forged identity header, a missing role,
        an unknown chat user) in the audit trail; it never raises."""
        log.warning("denied %s on %s for %s: %s", action, channel, who or "anonymous", why)
        if self.audit is None:
            return
        try:
            self.audit.record_denial(
                Denial(self.audit.now(), channel, who, tuple(sorted(groups)), action, why)
            )
        except Exception:  # the refusal stands even when it cannot be written down
            log.exception("could not record a denied request")

    def _record_failure(
        self,
        error: BoundaryError,
        question: str,
        channel: Channel,
        principal: Principal,
        conversation_id: str,
        wall_s: float,
    ) -> None:
        """Write a faulted question to the audit trail; never raises (the
        fault itself is what the caller must see)."""
        kind = fault_kind(error)
        log.warning("question failed (%s) after %.1fs: %s", kind, wall_s, error)
        if self.audit is None:
            return
        try:
            self.audit.record_failure(
                Failure(
                    new_id(),
                    self.audit.now(),
                    channel,
                    principal.id,
                    tuple(sorted(principal.groups)),
                    conversation_id,
                    question,
                    kind,
                    str(error),
                    round(wall_s, 3),
                )
            )
        except Exception:
            log.exception("could not record a failed question")

    def _remember(self, conversation_id: str, question: str, outcome: Outcome) -> None:
        if isinstance(outcome, Refusal) and outcome.reason in (
            RefusalReason.INVALID_QUESTION,
            RefusalReason.OUT_OF_SCOPE,
        ):
            # An empty or oversized message is nothing to refer back to, and an
            # out-of-scope request ("ignore your documents…") must not be fed to
            # the follow-up rewriter as context.
            return
        # The standalone form names what the follow-up was about, so a later
        # "it" resolves without re-reading the whole chain.
        asked = outcome.standalone_question or question
        answer = outcome.text if isinstance(outcome, Answer) else None
        self.memory.add(conversation_id, Turn(asked, answer))

    def feedback(
        self, interaction_id: str, helpful: bool, comment: str = "", *, principal: Principal
    ) -> None:
        """Store a user's verdict on one of their own replies; raises
        ``UnknownInteractionError`` for a bad id or another person's reply
        (the two are not told apart)."""
        if self.audit is None:
            log.info("feedback on %s not stored: auditing is off", interaction_id)
            return
        self.audit.add_feedback(interaction_id, helpful, comment, asker=principal.id)

    def _record(
        self,
        outcome: Outcome,
        question: str,
        channel: Channel,
        principal: Principal,
        audience: Audience,
        conversation_id: str,
        wall_s: float,
    ) -> str | None:
        if self.audit is None:
            return None
        # A refusal names the model only when the LLM was asked (an answer carries its own).
        called = isinstance(outcome, Refusal) and outcome.llm_called
        model = self.pipeline.generator.model_name if called else ""
        interaction = interaction_from(
            outcome,
            question=question,
            channel=channel,
            user_id=principal.id,
            principal_groups=tuple(sorted(principal.groups)),
            audience=tuple(sorted(audience.groups)),
            conversation_id=conversation_id,
            model=model,
            settings_version=self.settings_version,
            wall_s=wall_s,
            when=self.audit.now(),
        )
        self.audit.record(interaction)
        return interaction.id


def _memory_key(conversation_id: str, principal: Principal, audience: Audience | None) -> str:
    """Turns are shared only by one asker in one conversation with one audience
    (an empty conversation id keeps no memory at all)."""
    if not conversation_id:
        return ""
    prefix = f"{conversation_id}\x1f{principal.id}\x1f"
    return prefix if audience is None else prefix + audience.key()


def build_assistant(settings: Settings) -> tuple[Assistant, Stores]:
    """Pipeline and audit store from settings, for channel entry points.

    Uses the configured LLM server (embedded or remote) but does not start the
    embedded one: run ``make run`` or ``chatbot-llm serve`` first.
    """
    from chatbot.compose import build_audit, build_pipeline, build_stores, limit_answering_threads

    limit_answering_threads(settings)
    stores = build_stores(settings)
    pipeline = build_pipeline(settings, stores=stores)
    return Assistant(pipeline, build_audit(settings)), stores
