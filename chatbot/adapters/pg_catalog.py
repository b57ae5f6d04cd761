"""The ingestion catalog in the keyword index's PostgreSQL schema: the
``documents`` table (one ``DocumentRecord`` per ingested source file), the
``meta`` settings the index was built with, the periods its documents
cover, the index's totals, and the advisory lock that lets one ingestion at
a time, on any machine, write them (``chatbot.catalog`` says what each is for).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import UTC

from chatbot.access import Audience
from chatbot.adapters.chunk_rows import (
    DOCUMENT_COLUMNS,
    context_from_json,
    context_json,
    record_from_row,
    status_from_row,
)
from chatbot.adapters.pg_connection import Database
from chatbot.adapters.pg_schema import stored_groups
from chatbot.catalog import DocumentRecord, IndexStatus


class PostgresCatalog:
    """The catalog part of ``Catalog`` in ``schema`` of ``db`` (the keyword
    index keeps the chunk-side methods)."""

    def __init__(self, db: Database, schema: str) -> None:
        self._db = db
        self._schema = schema
        self._s = f'"{schema}"'

    def catalog(self) -> dict[str, DocumentRecord]:
        rows = self._db.read(
            f"SELECT {DOCUMENT_COLUMNS} FROM {self._s}.documents ORDER BY source", {}
        )
        return {row[0]: record_from_row(row, stored_groups) for row in rows}

    def record_document(self, record: DocumentRecord) -> None:
        self._db.write(
            "write to",
            lambda conn: conn.execute(
                f"INSERT INTO {self._s}.documents (source, file_hash, title, pages, chunk_ids, "
                "language, ingested_at, context, period_from, groups) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (source) DO UPDATE SET "
                "file_hash = excluded.file_hash, title = excluded.title, pages = excluded.pages, "
                "chunk_ids = excluded.chunk_ids, language = excluded.language, "
                "ingested_at = excluded.ingested_at, context = excluded.context, "
                "period_from = excluded.period_from, groups = excluded.groups",
                (
                    record.source,
                    record.file_hash,
                    record.title,
                    record.pages,
                    json.dumps(list(record.chunk_ids)),
                    record.language,
                    record.ingested_at.astimezone(UTC),
                    context_json(record.context),
                    record.period_from,
                    list(record.groups),
                ),
            ),
        )

    def forget_document(self, source: str) -> None:
        self._db.write(
            "write to",
            lambda conn: conn.execute(
                f"DELETE FROM {self._s}.documents WHERE source = %s", (source,)
            ),
        )

    def periods(self, audience: Audience) -> frozenset[str]:
        rows = self._db.read(
            f"SELECT context, groups FROM {self._s}.documents WHERE period_from != ''", {}
        )
        found = set()
        for context, groups in rows:
            period = context_from_json(context).period
            if period and audience.allows(groups or ()):
                found.add(period)
        return frozenset(found)

    def get_meta(self, key: str) -> str | None:
        rows = self._db.read(f"SELECT value FROM {self._s}.meta WHERE key = %(k)s", {"k": key})
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.write(
            "write to",
            lambda conn: conn.execute(
                f"INSERT INTO {self._s}.meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            ),
        )

    def status(self) -> IndexStatus:
        totals = self._db.read(
            f"SELECT count(*), coalesce(sum(pages), 0), max(ingested_at) FROM {self._s}.documents",
            {},
        )[0]
        chunks = int(self._db.read(f"SELECT chunks FROM {self._s}.stats", {})[0][0])
        return status_from_row(totals, chunks=chunks, embedder=self.get_meta("embedder"))

    def ingestion_lock(self, wait_s: float) -> AbstractContextManager[None]:
        """Held for a whole ingestion run: a PostgreSQL advisory lock on its
        own connection, so every process on any machine that ingests into
        this schema takes its turn. Waits up to ``wait_s``, then raises
        ``BoundaryError``; the server drops it when the holder dies."""
        return self._db.session_lock(
            "boundary-ingest:" + self._schema,
            wait_s,
            f"another ingestion into schema {self._schema!r} of {self._db.where} is still "
            f"running after {wait_s:.0f}s: wait for it to finish and run `chatbot-ingest` "
            "again (or raise CHATBOT_INGEST__LOCK_WAIT_S)",
        )
