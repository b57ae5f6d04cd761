"""The audit trail in one SQLite file, for one process (the default store).

WAL mode, so readers such as an export never block a bot that is writing;
every call opens its own short-lived connection and commits before it
returns, so a process killed mid-write loses at most the record it was
writing. Timestamps are text in ``chatbot.audit.STAMP_FORMAT`` (UTC, fixed
width), so text order is time order; JSON values are text. Tables::

    interactions  one row per question (``chatbot.audit.Interaction``)
    feedback      verdicts on interactions, deleted with them
    denials       refused requests
    failures      faulted questions

A file created before a column existed gets it (NULL for old rows) when it
is opened.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from chatbot.audit import (
    Denial,
    Failure,
    Feedback,
    Interaction,
    asked_by,
    interaction_from_row,
    parse_stamp,
    retention_cutoff,
    stamp,
    utc_now,
)
from chatbot.errors import UnknownInteractionError

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

_JSON_COLUMNS = ("citations", "passages", "evidence", "timings", "principal_groups", "audience")


class SqliteAuditStore:
    """``AuditStore`` in the SQLite file ``path``. Safe to share between
    threads: every call opens its own short-lived connection."""

    def __init__(
        self,
        path: Path,
        retention_days: int = 365,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = path
        self._retention_days = retention_days
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

    @property
    def retention_days(self) -> int:
        return self._retention_days

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10.0)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            with db:  # one transaction: commit on success, roll back on error
                yield db

    def close(self) -> None:
        """Nothing to release: no connection outlives a call."""

    def now(self) -> datetime:
        return self._clock()

    def purge(self) -> int:
        cutoff = retention_cutoff(self.now(), self._retention_days)
        if cutoff is None:
            return 0
        before = stamp(cutoff)
        with self._connect() as db:
            db.execute("DELETE FROM denials WHERE timestamp < ?", (before,))
            db.execute("DELETE FROM failures WHERE timestamp < ?", (before,))
            return db.execute("DELETE FROM interactions WHERE timestamp < ?", (before,)).rowcount

    def record(self, interaction: Interaction) -> None:
        row = interaction.to_json()
        for key in _JSON_COLUMNS:
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
        rows = self._since("SELECT * FROM failures", "ORDER BY timestamp, id", since)
        return [
            Failure(
                r["id"],
                parse_stamp(r["timestamp"]),
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
        rows = self._since("SELECT * FROM denials", "ORDER BY timestamp, rowid", since)
        return [
            Denial(
                parse_stamp(r["timestamp"]),
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
        feedback = Feedback(interaction_id, helpful, comment.strip(), self.now())
        with self._connect() as db:
            known = db.execute(
                "SELECT user_id FROM interactions WHERE id = ?", (interaction_id,)
            ).fetchone()
            if known is None or not asked_by(str(known["user_id"]), asker):
                raise UnknownInteractionError(interaction_id)
            db.execute(
                "INSERT INTO feedback (interaction_id, helpful, comment, timestamp) "
                "VALUES (?, ?, ?, ?)",
                (interaction_id, int(helpful), feedback.comment, stamp(feedback.timestamp)),
            )
        return feedback

    def get(self, interaction_id: str) -> Interaction | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM interactions WHERE id = ?", (interaction_id,)
            ).fetchone()
        return None if row is None else _interaction(row)

    def interactions(self, since: datetime | None = None) -> Iterator[Interaction]:
        rows = self._since("SELECT * FROM interactions", "ORDER BY timestamp, id", since)
        for row in rows:
            yield _interaction(row)

    def feedback(self, since: datetime | None = None) -> list[Feedback]:
        rows = self._since(
            "SELECT interaction_id, helpful, comment, timestamp FROM feedback",
            "ORDER BY timestamp, rowid",
            since,
        )
        return [Feedback(i, bool(h), c, parse_stamp(t)) for i, h, c, t in rows]

    def _since(self, select: str, order: str, since: datetime | None) -> list[sqlite3.Row]:
        floor = stamp(since) if since is not None else ""
        with self._connect() as db:
            return db.execute(f"{select} WHERE timestamp >= ? {order}", (floor,)).fetchall()


def _interaction(row: sqlite3.Row) -> Interaction:
    values: dict[str, Any] = dict(zip(row.keys(), tuple(row), strict=True))
    for key in _JSON_COLUMNS:
        if values[key] is not None:
            values[key] = json.loads(values[key])
    values["timestamp"] = parse_stamp(values["timestamp"])
    return interaction_from_row(values)
