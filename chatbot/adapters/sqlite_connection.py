"""The SQLite file behind the keyword index and the catalog: one connection
in WAL mode, shared behind a lock (safe from a web server's worker threads),
its schema created or upgraded on open, reads and write transactions, and
every ``sqlite3`` error turned into a ``BoundaryError`` that says what to do.

Every read sees what another process committed; only a file deleted and
made anew (the index folder removed and ingested again) would go unseen,
since a connection keeps the file it opened, so at most once per
``refresh_s`` a statement checks the file is still the one opened, and
reconnects if not.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chatbot.adapters.chunk_rows import row_to_chunk
from chatbot.adapters.freshness import REFRESH_S, file_identity
from chatbot.adapters.sqlite_schema import (
    CHUNK_COLUMNS,
    DROP,
    MIGRATE_1_TO_2,
    MIGRATE_2_TO_3,
    RANK,
    SCHEMA,
    SCHEMA_VERSION,
)
from chatbot.domain import groups_from_label
from chatbot.errors import BoundaryError, ConfigurationError, IndexMissingError
from chatbot.text import terms

log = logging.getLogger(__name__)


class SqliteDatabase:
    """The keyword index's file at ``path``. With ``create=False`` a missing
    file raises ``IndexMissingError`` instead of being created empty (for the
    answering side).

    ``lock`` serialises use of the connection; ``read`` and ``transaction``
    take it, and a caller holds it around statements that belong together.
    """

    def __init__(self, path: Path, *, create: bool = True, refresh_s: float = REFRESH_S) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._refresh_s = refresh_s
        self._looked_at = time.monotonic()
        if not create and not path.exists():
            raise IndexMissingError(
                f"no keyword index at {path}: run `chatbot-ingest` first "
                "(or set CHATBOT_INDEX__PATH)"
            )
        self._db = self._connect()
        self._check_schema()
        with self.lock:
            self._rank()

    def close(self) -> None:
        with self.lock:
            self._db.close()

    def read(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self.lock:
            self._follow_replaced()
            try:
                return list(self._db.execute(sql, tuple(params)).fetchall())
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside ``BEGIN IMMEDIATE``: committed when the block
        ends, rolled back if it raises."""
        with self.lock:
            self._follow_replaced()
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error("write to", exc) from exc
            try:
                yield self._db
            except BaseException as exc:
                self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error("write to", exc) from exc
                raise
            else:
                self._db.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        rows = self.read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def reset(self) -> None:
        """Every table dropped and made anew, empty, at this schema version."""
        with self.lock:
            try:
                self._db.executescript(DROP + SCHEMA)
                self._db.execute(RANK)
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
            except sqlite3.Error as exc:
                raise self._error("reset", exc) from exc

    # -- internals ---------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=10000")
            db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise BoundaryError(
                f"cannot open the keyword index at {path}: {exc}. Check the folder is "
                "writable, or delete the file and run `chatbot-ingest --rebuild`"
            ) from exc
        self._identity = file_identity(path)
        return db

    def _rank(self) -> None:
        try:
            self._db.execute(RANK)
        except sqlite3.Error as exc:
            raise self._error("configure", exc) from exc

    def _follow_replaced(self) -> None:
        """Reconnect when the file is no longer the one opened (looked at
        most once per ``refresh_s``; while it is missing, the old one serves)."""
        now = time.monotonic()
        if now - self._looked_at < self._refresh_s:
            return
        with self.lock:
            self._looked_at = now
            found = file_identity(self.path)
            if found is None or found == self._identity:
                return
            old, self._db = self._db, self._connect()
            old.close()
            self._rank()
        log.info("the keyword index at %s was replaced; reconnected", self.path)

    def _check_schema(self) -> None:
        found = self.get_meta("schema_version")
        for old, script in (("1", MIGRATE_1_TO_2), ("2", MIGRATE_2_TO_3)):
            if found != old:
                continue
            with self.lock:
                try:
                    self._db.executescript(script)
                    if old == "2":
                        self._refill_fts()
                except sqlite3.Error as exc:
                    raise self._error("upgrade", exc) from exc
            found = str(int(old) + 1)
            self.set_meta("schema_version", found)
        if found is None:
            self.set_meta("schema_version", SCHEMA_VERSION)
        elif found != SCHEMA_VERSION:
            raise ConfigurationError(
                f"the keyword index at {self.path} has schema version {found}, this "
                f"version needs {SCHEMA_VERSION}: delete {self.path.parent} and run "
                "`chatbot-ingest` again"
            )

    def _refill_fts(self) -> None:
        """Re-index every stored chunk's terms (after the FTS table was rebuilt);
        no group yet: sync labels them."""
        rows = self._db.execute(f"SELECT rowid, {CHUNK_COLUMNS} FROM chunks").fetchall()
        self._db.execute("BEGIN IMMEDIATE")
        self._db.executemany(
            "INSERT INTO chunks_fts (rowid, terms, acl) VALUES (?, ?, '')",
            [
                (row[0], " ".join(terms(row_to_chunk(row[1:], groups_from_label).indexed_text())))
                for row in rows
            ],
        )
        self._db.execute("COMMIT")

    def _error(self, action: str, exc: sqlite3.Error) -> BoundaryError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            hint = "another ingestion is probably running; wait for it and retry"
        elif "readonly" in text or "unable to open" in text:
            hint = "check that the index folder is writable (CHATBOT_INDEX__PATH)"
        else:
            hint = "if the file is damaged, run `chatbot-ingest --rebuild`"
        return BoundaryError(f"cannot {action} the keyword index at {self.path}: {text}: {hint}")
