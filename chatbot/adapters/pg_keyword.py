"""Keyword index, ingestion catalog and access labels in PostgreSQL, for
several app replicas sharing one index (``CHATBOT_INDEX__KEYWORD_BACKEND=postgres``).

It keeps the contract of ``chatbot.adapters.sqlite_keyword`` (the suites in
``tests/contracts`` run against both) with the same tokenisation: each
chunk's ``chatbot.text.terms``, computed here in Python, because
PostgreSQL's text search has no Chinese parser and its ``simple`` parser
would split terms such as ``u.s`` that ours keep whole.

Tables (in one PostgreSQL schema, ``CHATBOT_INDEX__POSTGRES_SCHEMA``)::

    labels     each distinct set of access groups once (text[]), by id
    chunks     the chunk text, metadata, access groups, their label id and
               the length in terms; ``rid`` is a compact key for the postings
    postings   the inverted index: (term, rid) -> term frequency, with the
               chunk's length and label id copied in, in a covering b-tree
               (term, rid) INCLUDE (tf, dl, label): a search reads only its
               terms' index entries and never the chunks table
    stats      one row: number of chunks and of terms, for BM25's average
               length (kept by each write, in its transaction)
    documents  the ingestion catalog, one row per source file
    meta       settings the index was built with (embedder, chunking, schema)

Why not ``tsvector`` and a GIN index: ``ts_rank`` is not BM25, so the
fusion and the gate would see different scores on the two backends, and
ranking would read each matching row's vector. The postings table gives
real BM25 (k1 1.2, b 0.75 as FTS5; idf ``ln(1 + (N - n + .5)/(n + .5))``,
never negative) from an ordinary b-tree.

Access: a search keeps only postings whose label shares a group with the
audience (``labels.groups && audience``, the rule of ``Audience.allows``)
*before* the cut to k, so another group's chunks never take a place in the
top k. A chunk with no group has the empty label, which matches no audience
(fails closed).

After a large write (a fifth of the index or more) the adapter runs
``VACUUM (ANALYZE)`` on the postings, so the planner knows their size and
index-only scans need no heap visits; autovacuum does the same later anyway.

Connections come from a pool (``psycopg_pool``); every statement sees what
other processes committed, so replicas never need a restart to see new
documents. A broken connection (the server restarted) is dropped by the
pool and a read is tried once more on a fresh one; a write is not retried
(its transaction rolled back, ingestion reports the error and a rerun
redoes the file). ``ingestion_lock`` is a PostgreSQL advisory lock, so two
``chatbot-ingest`` runs on different machines take turns; it is released
by the server if the holder is killed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC
from typing import Any, TypeVar

import psycopg

from chatbot.access import Audience
from chatbot.adapters.chunk_rows import context_from_json, context_json, row_to_chunk
from chatbot.adapters.pg_connection import Database, describe_url
from chatbot.adapters.pg_schema import (
    CHUNK_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    SEARCH_SQL,
)
from chatbot.catalog import DocumentRecord, IndexStatus, StoredChunk
from chatbot.domain import Chunk
from chatbot.errors import ConfigurationError, IndexMissingError
from chatbot.protocols import Hit
from chatbot.text import terms

log = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# First key of the two-int advisory locks this adapter takes ("Bd").
_LOCK_CLASS = 0x4264
_MIGRATE = "migrate:"


class PostgresKeywordIndex:
    """``KeywordIndex`` and ``Catalog`` in one PostgreSQL schema.

    ``create=False`` (the answering side): a schema without the tables raises
    ``IndexMissingError`` instead of creating them.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "boundary",
        create: bool = True,
        pool_size: int = 8,
        connect_timeout_s: float = 10.0,
    ) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ConfigurationError(
                f"CHATBOT_INDEX__POSTGRES_SCHEMA {schema!r} is not a plain lower-case "
                "name (letters, digits, underscore; at most 63): choose one such as 'boundary'"
            )
        self._schema = schema
        self._s = f'"{schema}"'
        self._db = Database(
            url,
            subject=f"the keyword index in schema {schema!r} of {describe_url(url)}",
            name=f"boundary-{schema}",
            pool_size=pool_size,
            connect_timeout_s=connect_timeout_s,
        )
        self._where = self._db.where
        self._closed = False
        self._lock = threading.Lock()
        self._labels: dict[tuple[str, ...], int] = {}
        self._written_since_vacuum = 0
        try:
            if create:
                self._migrate()
            elif not self._exists():
                raise IndexMissingError(
                    f"no keyword index in schema {schema!r} of {self._where}: run "
                    "`chatbot-ingest` first (or set CHATBOT_INDEX__POSTGRES_SCHEMA)"
                )
            else:
                self._check_version()
        except BaseException:
            self._db.close()
            raise

    @property
    def where(self) -> str:
        """The server and schema, password-free, for status pages."""
        return f"{self._where} (schema {self._schema})"

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    # -- KeywordIndex ------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        unique = list({chunk.id: chunk for chunk in chunks}.values())
        counted = [Counter(terms(chunk.indexed_text())) for chunk in unique]
        lengths = [sum(n.values()) for n in counted]
        groups = [_normal(c.groups) for c in unique]

        def write(conn: psycopg.Connection[Any]) -> None:
            self._remove(conn, [c.id for c in unique])
            label = {g: self._label_id(conn, g) for g in set(groups)}
            rows = conn.execute(
                f"INSERT INTO {self._s}.chunks ({CHUNK_COLUMNS}, label, length) "
                "SELECT u.id, u.text, u.source, u.title, u.page, u.section, u.language, "
                "u.content_hash, u.file_hash, u.position, u.context, "
                "CASE WHEN u.names = '' THEN '{}'::text[] ELSE string_to_array(u.names, ',') "
                "END, u.label, u.length "
                "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int[], "
                "%s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::text[], "
                "%s::text[], %s::int[], %s::int[]) AS u(id, text, source, title, page, section, "
                "language, content_hash, file_hash, position, context, names, label, length) "
                "RETURNING id, rid",
                (
                    [c.id for c in unique],
                    [c.text for c in unique],
                    [c.source for c in unique],
                    [c.title for c in unique],
                    [c.page for c in unique],
                    [c.section for c in unique],
                    [c.language for c in unique],
                    [c.content_hash for c in unique],
                    [c.file_hash for c in unique],
                    [c.position for c in unique],
                    [context_json(c.context) for c in unique],
                    # unnest cannot build an array per row: the groups go as text
                    [",".join(g) for g in groups],
                    [label[g] for g in groups],
                    lengths,
                ),
            ).fetchall()
            rid = {str(chunk_id): int(r) for chunk_id, r in rows}
            with conn.cursor().copy(
                f"COPY {self._s}.postings (term, rid, tf, dl, label) FROM STDIN"
            ) as copy:
                for chunk, tf, dl, g in zip(unique, counted, lengths, groups, strict=True):
                    row_id, lid = rid[chunk.id], label[g]
                    for term, n in tf.items():
                        copy.write_row((term, row_id, n, dl, lid))
            conn.execute(
                f"UPDATE {self._s}.stats SET chunks = chunks + %s, terms = terms + %s",
                (len(unique), sum(lengths)),
            )

        self._write("write to", write)
        self._written_since_vacuum += len(unique)
        self._maintain()

    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self._write("write to", lambda conn: self._remove(conn, list(dict.fromkeys(ids))))

    def search(self, query: str, k: int, *, audience: Audience) -> list[Hit]:
        from chatbot.text import content_terms

        wanted = list(dict.fromkeys(content_terms(query)))
        if not wanted or k <= 0 or audience.empty:
            return []
        rows = self._read(
            SEARCH_SQL.format(s=self._s),
            {"terms": wanted, "groups": sorted(audience.groups), "k": k},
        )
        return [Hit(chunk=_row_to_chunk(row[:-1]), score=max(0.0, float(row[-1]))) for row in rows]

    def relabel(self, ids: Sequence[str], groups: Sequence[str]) -> None:
        if not ids:
            return
        wanted = _normal(groups)
        unique = list(dict.fromkeys(ids))

        def write(conn: psycopg.Connection[Any]) -> None:
            label = self._label_id(conn, wanted)
            conn.execute(
                f"UPDATE {self._s}.chunks SET groups = %s, label = %s WHERE id = ANY(%s)",
                (list(wanted), label, unique),
            )
            conn.execute(
                f"UPDATE {self._s}.postings SET label = %s WHERE rid IN "
                f"(SELECT rid FROM {self._s}.chunks WHERE id = ANY(%s))",
                (label, unique),
            )

        self._write("write to", write)

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        unique = list(dict.fromkeys(terms))
        total = int(self._read(f"SELECT chunks FROM {self._s}.stats", {})[0][0])
        rows = self._read(
            f"SELECT term, count(*) FROM {self._s}.postings WHERE term = ANY(%(t)s) GROUP BY term",
            {"t": unique},
        )
        found = {str(term): int(n) for term, n in rows}
        return total, {term: found.get(term, 0) for term in unique}

    # -- extras for the answering side --------------------------------------

    def count(self) -> int:
        return int(self._read(f"SELECT chunks FROM {self._s}.stats", {})[0][0])

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        rows = self._read(
            f"SELECT {CHUNK_COLUMNS} FROM {self._s}.chunks WHERE id = ANY(%(ids)s)", {"ids": unique}
        )
        found = {chunk.id: chunk for chunk in map(_row_to_chunk, rows)}
        return [found[i] for i in ids if i in found]

    def periods(self, audience: Audience) -> frozenset[str]:
        rows = self._read(
            f"SELECT context, groups FROM {self._s}.documents WHERE period_from != ''", {}
        )
        found = set()
        for context, groups in rows:
            period = context_from_json(context).period
            if period and audience.allows(groups or ()):
                found.add(period)
        return frozenset(found)

    # -- Catalog -----------------------------------------------------------

    def catalog(self) -> dict[str, DocumentRecord]:
        rows = self._read(
            "SELECT source, file_hash, title, pages, chunk_ids, language, ingested_at, "
            f"context, period_from, groups FROM {self._s}.documents ORDER BY source",
            {},
        )
        return {
            row[0]: DocumentRecord(
                source=row[0],
                file_hash=row[1],
                title=row[2],
                pages=int(row[3]),
                chunk_ids=tuple(json.loads(row[4])),
                language=row[5],
                ingested_at=row[6].astimezone(UTC),
                context=context_from_json(row[7]),
                period_from=row[8],
                groups=_groups(row[9]),
            )
            for row in rows
        }

    def record_document(self, record: DocumentRecord) -> None:
        self._write(
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
        self._write(
            "write to",
            lambda conn: conn.execute(
                f"DELETE FROM {self._s}.documents WHERE source = %s", (source,)
            ),
        )

    def ids_for_source(self, source: str) -> list[str]:
        rows = self._read(
            f"SELECT id FROM {self._s}.chunks WHERE source = %(s)s ORDER BY position, id",
            {"s": source},
        )
        return [str(row[0]) for row in rows]

    def unlabelled_ids(self) -> list[str]:
        rows = self._read(f"SELECT id FROM {self._s}.chunks WHERE cardinality(groups) = 0", {})
        return [str(row[0]) for row in rows]

    def stored_chunks(self) -> list[StoredChunk]:
        """Every chunk with its label, and whether its text and its postings
        are there with the same label (a chunk of no terms needs none)."""
        rows = self._read(
            f"SELECT c.id, c.source, c.groups, length(c.text) > 0, "
            f"(c.length = 0 OR EXISTS (SELECT 1 FROM {self._s}.postings p WHERE p.rid = c.rid)) "
            f"AND NOT EXISTS (SELECT 1 FROM {self._s}.postings p "
            f"WHERE p.rid = c.rid AND p.label <> c.label) "
            f"AND l.groups = c.groups "
            f"FROM {self._s}.chunks c JOIN {self._s}.labels l ON l.id = c.label",
            {},
        )
        return [
            StoredChunk(str(cid), str(source), _groups(groups), bool(text) and bool(indexed))
            for cid, source, groups, text, indexed in rows
        ]

    def sources(self) -> set[str]:
        return {str(r[0]) for r in self._read(f"SELECT DISTINCT source FROM {self._s}.chunks", {})}

    def get_meta(self, key: str) -> str | None:
        rows = self._read(f"SELECT value FROM {self._s}.meta WHERE key = %(k)s", {"k": key})
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "write to",
            lambda conn: conn.execute(
                f"INSERT INTO {self._s}.meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            ),
        )

    def clear(self) -> None:
        def reset(conn: psycopg.Connection[Any]) -> None:
            conn.execute(
                f"TRUNCATE {self._s}.postings, {self._s}.chunks, {self._s}.labels, "
                f"{self._s}.documents, {self._s}.meta RESTART IDENTITY"
            )
            conn.execute(f"UPDATE {self._s}.stats SET chunks = 0, terms = 0")
            conn.execute(
                f"INSERT INTO {self._s}.meta (key, value) VALUES ('schema_version', %s)",
                (SCHEMA_VERSION,),
            )

        self._write("reset", reset)
        self._labels.clear()

    def status(self) -> IndexStatus:
        docs, pages, last = self._read(
            f"SELECT count(*), coalesce(sum(pages), 0), max(ingested_at) FROM {self._s}.documents",
            {},
        )[0]
        return IndexStatus(
            documents=int(docs),
            pages=int(pages),
            chunks=self.count(),
            last_ingested_at=last.astimezone(UTC) if last else None,
            embedder=self.get_meta("embedder"),
        )

    def ingestion_lock(self, wait_s: float) -> AbstractContextManager[None]:
        """Held for a whole ingestion run: a PostgreSQL advisory lock on its
        own connection, so every process on any machine that ingests into
        this schema takes its turn. Waits up to ``wait_s``, then raises
        ``BoundaryError``; the server drops it when the holder dies."""
        return self._db.session_lock(
            "boundary-ingest:" + self._schema,
            wait_s,
            f"another ingestion into schema {self._schema!r} of {self._where} is still "
            f"running after {wait_s:.0f}s: wait for it to finish and run `chatbot-ingest` "
            "again (or raise CHATBOT_INGEST__LOCK_WAIT_S)",
        )

    # -- internals ---------------------------------------------------------

    def _exists(self) -> bool:
        rows = self._read("SELECT to_regclass(%(t)s)", {"t": f"{self._s}.meta"})
        return rows[0][0] is not None

    def _migrate(self) -> None:
        def migrate(conn: psycopg.Connection[Any]) -> None:
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                (_LOCK_CLASS, _MIGRATE + self._schema),
            )
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._s}")
            exists = conn.execute("SELECT to_regclass(%s)", (f"{self._s}.meta",)).fetchone()
            found = None
            if exists and exists[0] is not None:
                row = conn.execute(
                    f"SELECT value FROM {self._s}.meta WHERE key = 'schema_version'"
                ).fetchone()
                found = str(row[0]) if row else None
            versions = [v for v, _ in MIGRATIONS]
            if found is not None and found not in versions:
                raise ConfigurationError(
                    f"the keyword index in schema {self._schema!r} of {self._where} has "
                    f"schema version {found}, this version knows {', '.join(versions)}: "
                    "upgrade the application, or use a new CHATBOT_INDEX__POSTGRES_SCHEMA and "
                    "run `chatbot-ingest`"
                )
            start = 0 if found is None else versions.index(found) + 1
            for version, script in MIGRATIONS[start:]:
                conn.execute(script.format(s=self._s))
                conn.execute(
                    f"INSERT INTO {self._s}.meta (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (version,),
                )
                log.info("PostgreSQL schema %s migrated to version %s", self._schema, version)

        self._write("create the tables of", migrate)

    def _check_version(self) -> None:
        found = self.get_meta("schema_version")
        if found != SCHEMA_VERSION:
            raise ConfigurationError(
                f"the keyword index in schema {self._schema!r} of {self._where} has schema "
                f"version {found}, this version needs {SCHEMA_VERSION}: run `chatbot-ingest` "
                "once with this version (it migrates)"
            )

    def _label_id(self, conn: psycopg.Connection[Any], groups: tuple[str, ...]) -> int:
        """The id of this set of groups in ``labels``, made on first use (labels
        are never deleted, so a cached id stays valid until ``clear``)."""
        if groups in self._labels:
            return self._labels[groups]
        conn.execute(
            f"INSERT INTO {self._s}.labels (groups) VALUES (%s) ON CONFLICT (groups) DO NOTHING",
            (list(groups),),
        )
        row = conn.execute(
            f"SELECT id FROM {self._s}.labels WHERE groups = %s", (list(groups),)
        ).fetchone()
        assert row is not None
        self._labels[groups] = int(row[0])
        return self._labels[groups]

    def _maintain(self) -> None:
        """``VACUUM (ANALYZE)`` once a fifth of the index is new (at least 2,000
        chunks): fresh planner statistics, and index-only scans that need not
        look at the table. Best effort: a failure is logged, never raised."""
        total = max(self.count(), 1)
        if self._written_since_vacuum < max(2000, total // 5):
            return
        self._written_since_vacuum = 0
        started = time.monotonic()
        try:
            self._db.run(f"VACUUM (ANALYZE) {self._s}.postings")
            self._db.run(f"ANALYZE {self._s}.chunks")
        except psycopg.Error as exc:
            log.warning("VACUUM of the keyword index failed (autovacuum will do it): %s", exc)
            return
        log.info(
            "vacuumed the keyword index (%d chunks) in %.1fs", total, time.monotonic() - started
        )

    def _remove(self, conn: psycopg.Connection[Any], ids: list[str]) -> None:
        removed = conn.execute(
            f"DELETE FROM {self._s}.chunks WHERE id = ANY(%s) RETURNING length", (ids,)
        ).fetchall()
        if removed:
            conn.execute(
                f"UPDATE {self._s}.stats SET chunks = chunks - %s, terms = terms - %s",
                (len(removed), sum(int(r[0]) for r in removed)),
            )

    def _read(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self._db.read(sql, params)

    def _write(self, action: str, work: Callable[[psycopg.Connection[Any]], object]) -> None:
        self._db.write(action, work)


def _normal(groups: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({g for g in groups if g}))


def _groups(value: object) -> tuple[str, ...]:
    """Groups as stored (text[]); anything else reads as none (fails closed)."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(sorted({str(g).strip() for g in value if str(g).strip()}))


def _row_to_chunk(row: Sequence[Any]) -> Chunk:
    return row_to_chunk(row, _groups)
