"""The audit trail: every question, its outcome and the evidence behind it.

This module holds what the trail records and the ``AuditStore`` protocol its
stores implement; the stores are adapters:

- ``chatbot.adapters.sqlite_audit.SqliteAuditStore``: one SQLite file (WAL
  mode), one per process (the default, ``CHATBOT_AUDIT__PATH``);
- ``chatbot.adapters.pg_audit.PostgresAuditStore``: tables in a PostgreSQL
  schema that several app replicas share (``CHATBOT_AUDIT__BACKEND=postgres``).

Both keep four record kinds:

- ``interactions``: who asked what through which channel, whether it was
  answered or refused (and why), the answer text and its short answer phrase
  (when the support judge gave one), its citations, every passage retrieved
  with its fused/dense/keyword scores (and its rerank score when a
  cross-encoder rescored it), the gate's evidence, the model, a fingerprint
  of the retrieval and gate settings, timings, and for a follow-up the
  standalone question it was rewritten into (what was actually retrieved for
  and answered);
- ``feedback``: a user's "helpful / not helpful" (and an optional comment) on
  one interaction (only the person who asked may give it);
- ``denials``: every refused request: an identity header from an untrusted
  address, a bad bearer token, a missing admin or auditor role, a chat user
  the directory does not know;
- ``failures``: every question that got neither an answer nor a refusal: the
  LLM down, hung, out of time or writing garbage, the LLM too busy to take
  it (back-pressure), the index missing, the embedder failing. With
  ``interactions`` and ``denials`` it accounts for every request.

Every interaction records who asked: the principal's id, their groups, and
the audience the question was answered for (narrower in shared channels).

Fields added over time are optional for readers: a store created before a
column existed gets it (empty for old rows) when it is opened, and a passage
recorded without a reranker has no ``rerank`` key. Rows older than the
retention period are purged when the store opens and on each write. Nothing
secret is stored: settings appear only as a hash, and no tokens or keys pass
through here.

Channels do not use the stores directly; they go through
``chatbot.assistant.Assistant``, which asks the pipeline and records
the outcome.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from chatbot.domain import Answer, Outcome, Passage, Refusal
from chatbot.settings import GateSettings, RetrievalSettings

Channel = Literal["web", "slack", "teams", "api", "cli"]
Decision = Literal["answer", "refusal"]

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(when: datetime) -> str:
    """``when`` as text in one fixed format, always UTC (so text order is time order)."""
    return when.astimezone(UTC).strftime(STAMP_FORMAT)


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, STAMP_FORMAT).replace(tzinfo=UTC)


def retention_cutoff(now: datetime, retention_days: int) -> datetime | None:
    """Records stamped before this are past retention; None keeps everything."""
    return None if retention_days <= 0 else now - timedelta(days=retention_days)


def asked_by(owner: str, asker: str | None) -> bool:
    """Whether ``asker`` may give feedback on an interaction ``owner`` asked
    (None: anyone). "svc for alice": a service token asked on alice's behalf."""
    return asker is None or owner == asker or owner.startswith(f"{asker} for ")


def settings_version(retrieval: RetrievalSettings, gate: GateSettings) -> str:
    """A short hash of the settings that decide answers and refusals, so an
    audit row shows which thresholds were in force."""
    payload = json.dumps(
        {"retrieval": retrieval.model_dump(mode="json"), "gate": gate.model_dump(mode="json")},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Interaction:
    """One question and its outcome, as the audit trail keeps it.

    ``answer_text`` is what the user was shown: the answer, or the refusal
    message. ``citations``, ``passages``, ``evidence`` and ``timings`` are
    plain JSON-ready values so the row exports without further work.
    """

    id: str
    timestamp: datetime
    channel: str
    user_id: str
    conversation_id: str
    question: str
    decision: Decision
    refusal_reason: str | None
    answer_text: str
    detail: str
    citations: list[dict[str, Any]]
    passages: list[dict[str, Any]]
    evidence: dict[str, Any] | None
    model: str
    settings_version: str
    timings: dict[str, float]
    standalone_question: str | None = None  # set for questions asked with history
    short_answer: str | None = None  # an answer's short phrase, when the judge gave one
    principal_groups: tuple[str, ...] = ()  # the asker's groups
    audience: tuple[str, ...] = ()  # the groups the question was answered from

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["timestamp"] = stamp(self.timestamp)
        row["principal_groups"] = list(self.principal_groups)
        row["audience"] = list(self.audience)
        return row


@dataclass(frozen=True, slots=True)
class Denial:
    """A request refused for who made it (not a refused question)."""

    timestamp: datetime
    channel: str
    principal: str  # who the request claimed or proved to be; "" when nobody
    groups: tuple[str, ...]
    action: str  # "ask", "admin", "audit_export", "sign_in", "source", "feedback"
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "timestamp": stamp(self.timestamp), "groups": list(self.groups)}


@dataclass(frozen=True, slots=True)
class Failure:
    """A question that faulted (``chatbot.errors.fault_kind`` names the kind)."""

    id: str
    timestamp: datetime
    channel: str
    user_id: str
    principal_groups: tuple[str, ...]
    conversation_id: str
    question: str
    kind: str  # "llm_unavailable", "llm_timeout", "llm_output", "llm_starting", "busy", ...
    message: str  # the technical message, for operators
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "timestamp": stamp(self.timestamp),
            "principal_groups": list(self.principal_groups),
        }


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Feedback:
    interaction_id: str
    helpful: bool
    comment: str
    timestamp: datetime


def _passage_json(passage: Passage) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": passage.id,
        "source": passage.chunk.source,
        "page": passage.chunk.page,
        "fused": passage.fused_score,
        "dense": passage.dense_score,
        "keyword": passage.keyword_score,
    }
    if passage.rerank_score is not None:
        # Only when a cross-encoder rescored the passage; rows without a
        # reranker (and older rows) have no "rerank" key.
        row["rerank"] = passage.rerank_score
    return row


def interaction_from(
    outcome: Outcome,
    *,
    question: str,
    channel: Channel,
    user_id: str,
    conversation_id: str,
    model: str,
    principal_groups: tuple[str, ...] = (),
    audience: tuple[str, ...] = (),
    settings_version: str,
    wall_s: float,
    when: datetime,
) -> Interaction:
    """The audit row for ``outcome``; ``wall_s`` is the channel's own stopwatch."""
    timings = {
        "retrieve_s": outcome.timings.retrieve_s,
        "read_s": outcome.timings.read_s,
        "generate_s": outcome.timings.generate_s,
        "verify_s": outcome.timings.verify_s,
        "condense_s": outcome.timings.condense_s,
        "wall_s": wall_s,
    }
    evidence = None
    if outcome.evidence is not None:
        evidence = {
            "best_dense": outcome.evidence.best_dense,
            "coverage": outcome.evidence.coverage,
            "language": outcome.evidence.language,
            "missing": list(outcome.evidence.missing),
            "reader": outcome.evidence.reader,
        }
    common: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "timestamp": when,
        "channel": channel,
        "user_id": user_id,
        "principal_groups": principal_groups,
        "audience": audience,
        "conversation_id": conversation_id,
        "question": question,
        "standalone_question": outcome.standalone_question,
        "passages": [_passage_json(p) for p in outcome.passages],
        "evidence": evidence,
        "settings_version": settings_version,
        "timings": timings,
    }
    match outcome:
        case Answer():
            return Interaction(
                **common,
                decision="answer",
                refusal_reason=None,
                answer_text=outcome.text,
                detail="",
                citations=[
                    {"number": c.number, "source": c.source, "page": c.page, "id": c.passage.id}
                    for c in outcome.citations
                ],
                model=outcome.model,
                short_answer=outcome.short_answer,
            )
        case Refusal():
            return Interaction(
                **common,
                decision="refusal",
                refusal_reason=outcome.reason.value,
                answer_text=outcome.message,
                detail=outcome.detail,
                citations=[],
                model=model if outcome.llm_called else "",
            )


def interaction_from_row(row: Mapping[str, Any]) -> Interaction:
    """An ``Interaction`` from a store's row, its JSON values already decoded
    and its timestamp a datetime; group lists may be missing (older rows)."""
    values = {name: row[name] for name in INTERACTION_FIELDS}
    values["timestamp"] = values["timestamp"].astimezone(UTC)
    values["principal_groups"] = tuple(values["principal_groups"] or ())
    values["audience"] = tuple(values["audience"] or ())
    return Interaction(**values)


INTERACTION_FIELDS = tuple(f.name for f in fields(Interaction))
FAILURE_FIELDS = tuple(f.name for f in fields(Failure))
DENIAL_FIELDS = tuple(f.name for f in fields(Denial))


class AuditStore(Protocol):
    """Where the audit trail is kept. Reads return records oldest first (ties
    by id for interactions and failures, by arrival for feedback and
    denials); ``since`` keeps those stamped at or after it (all when None)."""

    @property
    def retention_days(self) -> int:
        """Days records are kept (0: for ever)."""
        ...

    def now(self) -> datetime:
        """The store's clock (UTC), also used to stamp new records."""
        ...

    def purge(self) -> int:
        """Delete interactions (with their feedback), denials and failures past
        retention; returns how many interactions went."""
        ...

    def record(self, interaction: Interaction) -> None:
        """Store one interaction (then purge what is past retention)."""
        ...

    def record_denial(self, denial: Denial) -> None: ...

    def record_failure(self, failure: Failure) -> None: ...

    def add_feedback(
        self, interaction_id: str, helpful: bool, comment: str = "", *, asker: str | None = None
    ) -> Feedback:
        """Store feedback on ``interaction_id`` (comment stripped, stamped now);
        with ``asker``, only when ``asked_by`` that principal. Raises
        ``UnknownInteractionError`` for an unknown id or someone else's."""
        ...

    def get(self, interaction_id: str) -> Interaction | None: ...

    def interactions(self, since: datetime | None = None) -> Iterator[Interaction]: ...

    def feedback(self, since: datetime | None = None) -> list[Feedback]: ...

    def failures(self, since: datetime | None = None) -> list[Failure]: ...

    def denials(self, since: datetime | None = None) -> list[Denial]: ...

    def close(self) -> None:
        """Release connections (the store is not used afterwards)."""
        ...
