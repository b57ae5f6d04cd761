"""The audit trail in PostgreSQL, one trail for every app replica
(``CHATBOT_AUDIT__BACKEND=postgres``).

It keeps the contract of ``chatbot.adapters.sqlite_audit`` (the suite in
``tests/contracts/test_audit_contracts.py`` runs against both): the same
records, oldest first, ``since`` inclusive, ties broken by id (interactions,
failures; byte order, as SQLite) or by arrival (feedback, denials), and the
same retention purge on open and after each interaction (skipped while
another replica's purge runs: that one does the work).

Tables, in one schema (``CHATBOT_AUDIT__POSTGRES_SCHEMA``, default
``boundary_audit``)::

    interactions  one row per question; citations, passages, evidence and
                  timings as jsonb, groups and audience as text[]
    feedback      verdicts on interactions (deleted with them)
    denials       refused requests
    failures      faulted questions
    meta          the schema version

Timestamps are ``timestamptz``. The tables are made by numbered migrations,
run in one transaction under an advisory lock when a store opens, so
replicas starting together migrate once; an up-to-date schema is only read,
so a user with ``SELECT, INSERT, DELETE`` on the tables (no ``CREATE``) can
run the app once the owner has opened the store. Rows are never updated.

PostgreSQL text holds no NUL character and jsonb no NaN or infinity: a NUL
is stored as U+FFFD and a non-finite number inside a JSON value as null
(the SQLite store keeps both), so a hostile question is still recorded.

Connections, retries and error sentences are ``chatbot.adapters.pg_connection``'s.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from chatbot.adapters.pg_connection import Database, describe_url
from chatbot.audit import (
    DENIAL_FIELDS,
    FAILURE_FIELDS,
    INTERACTION_FIELDS,
    Denial,
    Failure,
    Feedback,
    Interaction,
    asked_by,
    interaction_from_row,
    retention_cutoff,
    utc_now,
)
from chatbot.errors import ConfigurationError, UnknownInteractionError

log = logging.getLogger(__name__)

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Each migration takes the schema from the version before it to its own
# number. Ids compare in byte order ("C"), as SQLite orders them.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "1",
        """
        CREATE TABLE {s}.meta (
            key text PRIMARY KEY,
            value text NOT NULL
        );
        CREATE TABLE {s}.interactions (
            id text COLLATE "C" PRIMARY KEY,
            "timestamp" timestamptz NOT NULL,
            channel text NOT NULL,
            user_id text NOT NULL,
            conversation_id text NOT NULL,
            question text NOT NULL,
            decision text NOT NULL CHECK (decision IN ('answer', 'refusal')),
            refusal_reason text,
            answer_text text NOT NULL,
            detail text NOT NULL,
            citations jsonb NOT NULL,
            passages jsonb NOT NULL,
            evidence jsonb,
            model text NOT NULL,
            settings_version text NOT NULL,
            timings jsonb NOT NULL,
            standalone_question text,
            short_answer text,
            principal_groups text[] NOT NULL DEFAULT '{{}}',
            audience text[] NOT NULL DEFAULT '{{}}'
        );
        CREATE INDEX interactions_timestamp ON {s}.interactions ("timestamp", id);
        CREATE TABLE {s}.feedback (
            seq bigserial PRIMARY KEY,
            interaction_id text COLLATE "C" NOT NULL
                REFERENCES {s}.interactions (id) ON DELETE CASCADE,
            helpful boolean NOT NULL,
            comment text NOT NULL,
            "timestamp" timestamptz NOT NULL
        );
        CREATE INDEX feedback_interaction ON {s}.feedback (interaction_id);
        CREATE INDEX feedback_timestamp ON {s}.feedback ("timestamp", seq);
        CREATE TABLE {s}.denials (
            seq bigserial PRIMARY KEY,
            "timestamp" timestamptz NOT NULL,
            channel text NOT NULL,
            principal text NOT NULL,
            groups text[] NOT NULL,
            action text NOT NULL,
            reason text NOT NULL
        );
        CREATE INDEX denials_timestamp ON {s}.denials ("timestamp", seq);
        CREATE TABLE {s}.failures (
            id text COLLATE "C" PRIMARY KEY,
            "timestamp" timestamptz NOT NULL,
            channel text NOT NULL,
            user_id text NOT NULL,
            principal_groups text[] NOT NULL,
            conversation_id text NOT NULL,
            question text NOT NULL,
            kind text NOT NULL,
            message text NOT NULL,
            wall_s double precision NOT NULL
        );
        CREATE INDEX failures_timestamp ON {s}.failures ("timestamp", id);
        """,
    ),
)

TABLES = ("interactions", "feedback", "denials", "failures", "meta")

_JSON_FIELDS = frozenset({"citations", "passages", "evidence", "timings"})
# Every read's floor when ``since`` is None: before any record.
_EVER = datetime(1970, 1, 1, tzinfo=UTC)


class PostgresAuditStore:
    """``AuditStore`` in PostgreSQL schema ``schema``; safe to share between
    threads (a connection pool). ``url_setting`` names the variable the URL
    came from, for error messages."""

    def __init__(
        self,
        url: str,
        *,
        schema: str = "boundary_audit",
        retention_days: int = 365,
        clock: Callable[[], datetime] = utc_now,
        pool_size: int = 4,
        connect_timeout_s: float = 10.0,
        url_setting: str = "CHATBOT_AUDIT__POSTGRES_URL",
    ) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ConfigurationError(
                f"CHATBOT_AUDIT__POSTGRES_SCHEMA {schema!r} is not a plain lower-case name "
                "(letters, digits, underscore; at most 63): choose one such as 'boundary_audit'"
            )
        self._schema = schema
        self._s = f'"{schema}"'
        self._retention_days = retention_days
        self._clock = clock
        self._db = Database(
            url,
            subject=f"the audit trail in schema {schema!r} of {describe_url(url)}",
            name=f"boundary-audit-{schema}",
            pool_size=pool_size,
            connect_timeout_s=connect_timeout_s,
            url_setting=url_setting,
            creator="`chatbot-audit purge`",
        )
        try:
            self._migrate()
            self.purge()
        except BaseException:
            self._db.close()
            raise

    @property
    def where(self) -> str:
        """The server and schema, password-free."""
        return f"{self._db.where} (schema {self._schema})"

    @property
    def retention_days(self) -> int:
        return self._retention_days

    def close(self) -> None:
        self._db.close()

    def now(self) -> datetime:
        return self._clock()

    def purge(self) -> int:
        return self._purge(wait=True)

    def record(self, interaction: Interaction) -> None:
        self._insert("interactions", INTERACTION_FIELDS, interaction, "record an interaction in")
        self._purge(wait=False)

    def record_denial(self, denial: Denial) -> None:
        self._insert("denials", DENIAL_FIELDS, denial, "record a denial in")

    def record_failure(self, failure: Failure) -> None:
        self._insert("failures", FAILURE_FIELDS, failure, "record a failure in")

    def add_feedback(
        self, interaction_id: str, helpful: bool, comment: str = "", *, asker: str | None = None
    ) -> Feedback:
        feedback = Feedback(interaction_id, helpful, comment.strip(), self.now())

        def add(conn: psycopg.Connection[Any]) -> None:
            row = conn.execute(
                f"SELECT user_id FROM {self._s}.interactions WHERE id = %s", (interaction_id,)
            ).fetchone()
            if row is None or not asked_by(str(row[0]), asker):
                raise UnknownInteractionError(interaction_id)
            try:
                conn.execute(
                    f"INSERT INTO {self._s}.feedback "
                    '(interaction_id, helpful, comment, "timestamp") VALUES (%s, %s, %s, %s)',
                    (interaction_id, helpful, _text(feedback.comment), feedback.timestamp),
                )
            except pg_errors.ForeignKeyViolation as exc:
                # Purged by another replica since the SELECT (no row lock:
                # that would need UPDATE permission, which the app never needs).
                raise UnknownInteractionError(interaction_id) from exc

        self._db.write("record feedback in", add)
        return feedback

    def get(self, interaction_id: str) -> Interaction | None:
        rows = self._db.read(
            f"SELECT {_columns(INTERACTION_FIELDS)} FROM {self._s}.interactions WHERE id = %(id)s",
            {"id": interaction_id},
        )
        return (
            interaction_from_row(dict(zip(INTERACTION_FIELDS, rows[0], strict=True)))
            if rows
            else None
        )

    def interactions(self, since: datetime | None = None) -> Iterator[Interaction]:
        for row in self._since("interactions", INTERACTION_FIELDS, "id", since):
            yield interaction_from_row(dict(zip(INTERACTION_FIELDS, row, strict=True)))

    def failures(self, since: datetime | None = None) -> list[Failure]:
        rows = self._since("failures", FAILURE_FIELDS, "id", since)
        return [Failure(**_plain(FAILURE_FIELDS, row)) for row in rows]

    def denials(self, since: datetime | None = None) -> list[Denial]:
        rows = self._since("denials", DENIAL_FIELDS, "seq", since)
        return [Denial(**_plain(DENIAL_FIELDS, row)) for row in rows]

    def feedback(self, since: datetime | None = None) -> list[Feedback]:
        fields = ("interaction_id", "helpful", "comment", "timestamp")
        rows = self._since("feedback", fields, "seq", since)
        return [Feedback(i, bool(h), c, t.astimezone(UTC)) for i, h, c, t in rows]

    # -- internals ---------------------------------------------------------

    def _insert(self, table: str, names: tuple[str, ...], record: object, action: str) -> None:
        values = {name: _value(name, getattr(record, name)) for name in names}
        marks = ", ".join(f"%({name})s" for name in names)
        sql = f"INSERT INTO {self._s}.{table} ({_columns(names)}) VALUES ({marks})"
        self._db.write(action, lambda conn: conn.execute(sql, values))

    def _since(
        self, table: str, names: tuple[str, ...], tie: str, since: datetime | None
    ) -> list[tuple[Any, ...]]:
        return self._db.read(
            f"SELECT {_columns(names)} FROM {self._s}.{table} "
            f'WHERE "timestamp" >= %(floor)s ORDER BY "timestamp", {tie}',
            {"floor": since.astimezone(UTC) if since is not None else _EVER},
        )

    def _purge(self, *, wait: bool) -> int:
        """Delete what is past retention, one purger at a time (replicas purging
        together would wait on each other's row locks). After a write
        (``wait`` False) a purge another process is running already does the
        work, so this one is skipped rather than queued behind it."""
        cutoff = retention_cutoff(self.now(), self._retention_days)
        if cutoff is None:
            return 0
        purged = [0]

        def delete(conn: psycopg.Connection[Any]) -> None:
            if not self._lock(conn, "purge", wait=wait):
                return
            for table in ("denials", "failures", "interactions"):
                done = conn.execute(
                    f'DELETE FROM {self._s}.{table} WHERE "timestamp" < %s', (cutoff,)
                )
            purged[0] = done.rowcount

        self._db.write("purge", delete)
        return purged[0]

    def _lock(self, conn: psycopg.Connection[Any], what: str, *, wait: bool = True) -> bool:
        """A transaction advisory lock on ``what`` in this schema; without
        ``wait``, False when another transaction holds it."""
        key = (f"boundary-audit-{what}:{self._schema}",)
        if wait:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", key)
            return True
        row = conn.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", key)
        got = row.fetchone()
        return got is not None and bool(got[0])

    def _migrate(self) -> None:
        def migrate(conn: psycopg.Connection[Any]) -> None:
            self._lock(conn, "migrate")
            found = self._version(conn)
            versions = [version for version, _ in MIGRATIONS]
            if found is not None and found not in versions:
                raise ConfigurationError(
                    f"the audit trail in {self.where} has schema version {found}, this version "
                    f"knows {', '.join(versions)}: upgrade the application, or set another "
                    "CHATBOT_AUDIT__POSTGRES_SCHEMA"
                )
            pending = MIGRATIONS[versions.index(found) + 1 :] if found else MIGRATIONS
            if not pending:
                return
            # Only when missing: CREATE SCHEMA checks the database's CREATE
            # permission even when the schema exists.
            known = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self._schema,)
            ).fetchone()
            if known is None:
                conn.execute(f"CREATE SCHEMA {self._s}")
            for version, script in pending:
                conn.execute(script.format(s=self._s))
                conn.execute(
                    f"INSERT INTO {self._s}.meta (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (version,),
                )
                log.info("audit schema %s migrated to version %s", self._schema, version)

        self._db.write("create the tables of", migrate)

    def _version(self, conn: psycopg.Connection[Any]) -> str | None:
        """The schema version in ``meta``; None when the schema or table is missing."""
        table = conn.execute("SELECT to_regclass(%s)", (f"{self._s}.meta",)).fetchone()
        if table is None or table[0] is None:
            return None
        try:
            row = conn.execute(
                f"SELECT value FROM {self._s}.meta WHERE key = 'schema_version'"
            ).fetchone()
        except pg_errors.UndefinedTable:  # dropped between the two statements
            return None
        return str(row[0]) if row else None


def _columns(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _value(name: str, value: object) -> object:
    """A record's field as PostgreSQL takes it (see the module docstring)."""
    if name in _JSON_FIELDS:
        return None if value is None else Jsonb(_json_safe(value))
    if isinstance(value, tuple):
        return [_text(v) for v in value]
    return _text(value) if isinstance(value, str) else value


def _text(value: str) -> str:
    return value.replace("\x00", "\ufffd")


def _json_safe(value: Any) -> Any:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_text(str(k)): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _plain(names: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    """A failure's or denial's fields: the timestamp in UTC, groups as a tuple."""
    values = dict(zip(names, row, strict=True))
    values["timestamp"] = values["timestamp"].astimezone(UTC)
    return {key: tuple(v) if isinstance(v, list) else v for key, v in values.items()}
