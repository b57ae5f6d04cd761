"""The audit trail: every question, its outcome and the evidence behind it.

One SQLite file (WAL mode, so readers such as an export never block a bot
that is writing) with two tables:

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

Channels do not use this module directly; they go through
``chatbot.assistant.Assistant``, which asks the pipeline and records
the outcome.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from chatbot.domain import Answer, Outcome, Passage, Refusal
from chatbot.errors import UnknownInteractionError
from chatbot.settings import GateSettings, RetrievalSettings

Channel = Literal["web", "slack", "teams", "api", "cli"]
Decision = Literal["answer", "refusal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS interactions (
    id TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    question TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('answer', 'refusal')),
    refusal_reason TEXT,
    answer_text TEXT NOT NULL,
    detail TEXT NOT NULL,
    citations TEXT NOT NULL,
    passages TEXT NOT NULL,
    evidence TEXT,
    model TEXT NOT NULL,
    settings_version TEXT NOT NULL,
    timings TEXT NOT NULL,
    standalone_question TEXT,
    short_answer TEXT,
    principal_groups TEXT,
    audience TEXT
);
CREATE INDEX IF NOT EXISTS interactions_timestamp ON interactions (timestamp);
CREATE TABLE IF NOT EXISTS feedback (
    interaction_id TEXT NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
    helpful INTEGER NOT NULL,
    comment TEXT NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_interaction ON feedback (interaction_id);
CREATE TABLE IF NOT EXISTS denials (
    timestamp TEXT NOT NULL,
    channel TEXT NOT NULL,
    principal TEXT NOT NULL,
    groups TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS denials_timestamp ON denials (timestamp);
CREATE TABLE IF NOT EXISTS failures (
    id TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    principal_groups TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    question TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    wall_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_timestamp ON failures (timestamp);
"""

# Columns added after the first release; stores created earlier lack them and
# get them (NULL for existing rows) when opened.
_ADDED_COLUMNS = {
    "standalone_question": "TEXT",
    "short_answer": "TEXT",
    "principal_groups": "TEXT",
    "audience": "TEXT",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(when: datetime) -> str:
    # One fixed format, always UTC, so text comparison in SQL orders by time.
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


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
        row["timestamp"] = _stamp(self.timestamp)
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
        return {**asdict(self), "timestamp": _stamp(self.timestamp), "groups": list(self.groups)}


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
            "timestamp": _stamp(self.timestamp),
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


class AuditStore:
    """The SQLite audit file. Safe to share between threads: every call opens
    its own short-lived connection."""

    def __init__(
        self,
        path: Path,
        retention_days: int = 365,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(interactions)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in columns:
                    db.execute(f"ALTER TABLE interactions ADD COLUMN {column} {kind}")
        self.purge()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10.0)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            with db:  # one transaction: commit on success, roll back on error
                yield db

    def now(self) -> datetime:
        """The store's clock (UTC), also used to stamp new interactions."""
        return self._clock()

    def purge(self) -> int:
        """Delete interactions (and their feedback) past retention; returns how many."""
        if self.retention_days <= 0:
            return 0
        cutoff = _stamp(self.now() - timedelta(days=self.retention_days))
        with self._connect() as db:
            db.execute("DELETE FROM denials WHERE timestamp < ?", (cutoff,))
            db.execute("DELETE FROM failures WHERE timestamp < ?", (cutoff,))
            return db.execute("DELETE FROM interactions WHERE timestamp < ?", (cutoff,)).rowcount

    def record(self, interaction: Interaction) -> None:
        row = interaction.to_json()
        for key in ("citations", "passages", "evidence", "timings", "principal_groups", "audience"):
            row[key] = None if row[key] is None else json.dumps(row[key], ensure_ascii=False)
        columns = ", ".join(row)
        marks = ", ".join(f":{key}" for key in row)
        with self._connect() as db:
            db.execute(f"INSERT INTO interactions ({columns}) VALUES ({marks})", row)
        self.purge()

    def record_denial(self, denial: Denial) -> None:
        row = denial.to_json()
        row["groups"] = json.dumps(row["groups"])
        with self._connect() as db:
            db.execute(
                "INSERT INTO denials (timestamp, channel, principal, groups, action, reason) "
                "VALUES (:timestamp, :channel, :principal, :groups, :action, :reason)",
                row,
            )

    def record_failure(self, failure: Failure) -> None:
        row = failure.to_json()
        row["principal_groups"] = json.dumps(row["principal_groups"])
        columns = ", ".join(row)
        marks = ", ".join(f":{key}" for key in row)
        with self._connect() as db:
            db.execute(f"INSERT INTO failures ({columns}) VALUES ({marks})", row)

    def failures(self, since: datetime | None = None) -> list[Failure]:
        floor = _stamp(since) if since is not None else ""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM failures WHERE timestamp >= ? ORDER BY timestamp, id", (floor,)
            ).fetchall()
        return [
            Failure(
                r["id"],
                _parse_stamp(r["timestamp"]),
                r["channel"],
                r["user_id"],
                tuple(json.loads(r["principal_groups"])),
                r["conversation_id"],
                r["question"],
                r["kind"],
                r["message"],
                r["wall_s"],
            )
            for r in rows
        ]

    def denials(self, since: datetime | None = None) -> list[Denial]:
        floor = _stamp(since) if since is not None else ""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM denials WHERE timestamp >= ? ORDER BY timestamp", (floor,)
            ).fetchall()
        return [
            Denial(
                _parse_stamp(r["timestamp"]),
                r["channel"],
                r["principal"],
                tuple(json.loads(r["groups"])),
                r["action"],
                r["reason"],
            )
            for r in rows
        ]

    def add_feedback(
        self, interaction_id: str, helpful: bool, comment: str = "", *, asker: str | None = None
    ) -> Feedback:
        """Store feedback on ``interaction_id``; with ``asker``, only when that
        principal asked it (otherwise it is unknown, as for a bad id)."""
        feedback = Feedback(interaction_id, helpful, comment.strip(), self.now())
        with self._connect() as db:
            known = db.execute(
                "SELECT user_id FROM interactions WHERE id = ?", (interaction_id,)
            ).fetchone()
            owner = str(known["user_id"]) if known is not None else ""
            # "svc for alice": a service token asked on someone's behalf.
            mine = asker is None or owner == asker or owner.startswith(f"{asker} for ")
            if known is None or not mine:
                raise UnknownInteractionError(interaction_id)
            db.execute(
                "INSERT INTO feedback (interaction_id, helpful, comment, timestamp) "
                "VALUES (?, ?, ?, ?)",
                (interaction_id, int(helpful), feedback.comment, _stamp(feedback.timestamp)),
            )
        return feedback

    def get(self, interaction_id: str) -> Interaction | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM interactions WHERE id = ?", (interaction_id,)
            ).fetchone()
        return None if row is None else _interaction(row)

    def interactions(self, since: datetime | None = None) -> Iterator[Interaction]:
        """Every interaction at or after ``since`` (all when None), oldest first."""
        floor = _stamp(since) if since is not None else ""
        with self._connect() as db:
            cursor = db.execute(
                "SELECT * FROM interactions WHERE timestamp >= ? ORDER BY timestamp, id",
                (floor,),
            )
            rows = cursor.fetchall()
        for row in rows:
            yield _interaction(row)

    def feedback(self, since: datetime | None = None) -> list[Feedback]:
        floor = _stamp(since) if since is not None else ""
        with self._connect() as db:
            rows = db.execute(
                "SELECT interaction_id, helpful, comment, timestamp FROM feedback "
                "WHERE timestamp >= ? ORDER BY timestamp",
                (floor,),
            ).fetchall()
        return [Feedback(i, bool(h), c, _parse_stamp(t)) for i, h, c, t in rows]


def _interaction(row: sqlite3.Row) -> Interaction:
    def loads(value: str | None) -> Any:
        return None if value is None else json.loads(value)

    return Interaction(
        id=row["id"],
        timestamp=_parse_stamp(row["timestamp"]),
        channel=row["channel"],
        user_id=row["user_id"],
        conversation_id=row["conversation_id"],
        question=row["question"],
        decision=row["decision"],
        refusal_reason=row["refusal_reason"],
        answer_text=row["answer_text"],
        detail=row["detail"],
        citations=loads(row["citations"]),
        passages=loads(row["passages"]),
        evidence=loads(row["evidence"]),
        model=row["model"],
        settings_version=row["settings_version"],
        timings=loads(row["timings"]),
        standalone_question=row["standalone_question"],
        short_answer=row["short_answer"],
        principal_groups=tuple(loads(row["principal_groups"]) or ()),
        audience=tuple(loads(row["audience"]) or ()),
    )
