"""The ingestion catalog in the keyword index's SQLite file: the
``documents`` table (one ``DocumentRecord`` per ingested source file), the
periods its documents cover, the index's totals, and the lock that lets one
ingestion at a time write them (``chatbot.catalog`` says what each is for).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC

from chatbot.access import Audience
from chatbot.adapters.chunk_rows import (
    DOCUMENT_COLUMNS,
    context_json,
    record_from_row,
    status_from_row,
)
from chatbot.adapters.sqlite_connection import SqliteDatabase
from chatbot.catalog import DocumentRecord, IndexStatus
from chatbot.domain import groups_from_label
from chatbot.errors import BoundaryError

log = logging.getLogger(__name__)


class SqliteCatalog:
    """The catalog part of ``Catalog`` over ``db`` (the keyword index keeps
    the chunk-side methods)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def catalog(self) -> dict[str, DocumentRecord]:
        rows = self._db.read(f"SELECT {DOCUMENT_COLUMNS} FROM documents ORDER BY source", ())
        return {row[0]: record_from_row(row, groups_from_label) for row in rows}

    def record_document(self, record: DocumentRecord) -> None:
        with self._db.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO documents (source, file_hash, title, pages, "
                "chunk_count, chunk_ids, language, ingested_at, context, period_from, groups) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.source,
                    record.file_hash,
                    record.title,
                    record.pages,
                    len(record.chunk_ids),
                    json.dumps(list(record.chunk_ids)),
                    record.language,
                    record.ingested_at.astimezone(UTC).isoformat(),
                    context_json(record.context),
                    record.period_from,
                    ",".join(record.groups),
                ),
            )

    def forget_document(self, source: str) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM documents WHERE source = ?", (source,))

    def periods(self, audience: Audience) -> frozenset[str]:
        """Every declared or detected period of a document ``audience`` may see."""
        found = self._db.read(
            "SELECT DISTINCT json_extract(context, '$.period'), groups FROM documents "
            "WHERE period_from != ''",
            (),
        )
        return frozenset(
            str(row[0]) for row in found if row[0] and audience.allows(groups_from_label(row[1]))
        )

    def status(self) -> IndexStatus:
        with self._db.lock:
            totals = self._db.read(
                "SELECT count(*), coalesce(sum(pages), 0), max(ingested_at) FROM documents", ()
            )[0]
            chunks = int(self._db.read("SELECT count(*) FROM chunks", ())[0][0])
            embedder = self._db.get_meta("embedder")
        return status_from_row(totals, chunks=chunks, embedder=embedder)

    @contextmanager
    def ingestion_lock(self, wait_s: float) -> Iterator[None]:
        """An exclusive ``flock`` on ``<index>.lock`` for one whole run, so two
        ingestions on this machine take turns (the kernel releases it when
        the holder dies, even by SIGKILL)."""
        path = self._db.path
        lock_path = path.with_name(path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BoundaryError(
                f"cannot create the ingestion lock {lock_path}: {exc}: check that the "
                "index folder is writable (CHATBOT_INDEX__PATH)"
            ) from exc
        try:
            deadline = time.monotonic() + wait_s
            told = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise BoundaryError(
                            f"another ingestion into {path.parent} is still running "
                            f"after {wait_s:.0f}s: wait for it to finish and run "
                            "`chatbot-ingest` again (or raise CHATBOT_INGEST__LOCK_WAIT_S)"
                        ) from None
                    if not told:
                        log.info(
                            "another ingestion holds %s; waiting up to %.0fs", lock_path, wait_s
                        )
                        told = True
                    time.sleep(0.2)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock
