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
    frequencies  each term's number of chunks (BM25's document frequency,
               kept by each write in its transaction; writes take turns
               through an advisory lock so they cannot deadlock on it)
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

Long questions on a large index are searched in two stages
(``keyword_stages``: candidates through the rarest terms, then scored on
every term), in the same statement (``pg_schema.SEARCH_SQL``).

Connections come from a pool (``psycopg_pool``); every statement sees what
other processes committed, so replicas never need a restart to see new
documents. A broken connection (the server restarted) is dropped by the
pool and a read is tried once more on a fresh one; a write is not retried
(its transaction rolled back, ingestion reports the error and a rerun
redoes the file). ``ingestion_lock`` is a PostgreSQL advisory lock, so two
``chatbot-ingest`` runs on different machines take turns; it is released
by the server if the holder is killed.

The parts: ``PostgresKeywordIndex`` here is the chunks, postings and their
search (what ``KeywordIndex`` and the chunk side of ``Catalog`` ask); the
documents and meta tables and the ingestion lock are
``pg_catalog.PostgresCatalog``, to which it hands the catalog calls; the
label ids are ``pg_labels.LabelIds``; making and migrating the tables is
``pg_schema.open_schema``. All share one ``pg_connection.Database``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from chatbot.access import Audience
from chatbot.adapters import keyword_stages
from chatbot.adapters.chunk_rows import context_json, row_to_chunk
from chatbot.adapters.pg_catalog import PostgresCatalog
from chatbot.adapters.pg_connection import Database, describe_url
from chatbot.adapters.pg_labels import LabelIds, normal_groups
from chatbot.adapters.pg_schema import (
    CHUNK_COLUMNS,
    SCHEMA_VERSION,
    SEARCH_SQL,
    open_schema,
    quoted_schema,
    stored_groups,
)
from chatbot.catalog import DocumentRecord, IndexStatus, StoredChunk
from chatbot.domain import Chunk
from chatbot.protocols import Hit
from chatbot.text import content_terms, terms

log = logging.getLogger(__name__)

# First key of the transaction advisory lock that makes writes take turns
# ("Bw"; the schema's own locks use "Bd", ``pg_schema``).
WRITE_LOCK_CLASS = 0x4277


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
        self._schema = schema
        self._s = quoted_schema(schema)
        self._db = Database(
            url,
            subject=f"the keyword index in schema {schema!r} of {describe_url(url)}",
            name=f"boundary-{schema}",
            pool_size=pool_size,
            connect_timeout_s=connect_timeout_s,
        )
        self._catalog = PostgresCatalog(self._db, schema)
        self._closed = False
        self._lock = threading.Lock()
        self._labels = LabelIds(self._s)
        self._written_since_vacuum = 0
        try:
            open_schema(self._db, schema, create=create)
        except BaseException:
            self._db.close()
            raise

    @property
    def where(self) -> str:
        """The server and schema, password-free, for status pages."""
        return f"{self._db.where} (schema {self._schema})"

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
        groups = [normal_groups(c.groups) for c in unique]
        total = 0

        chunk_counts: Counter[str] = Counter()
        for tf in counted:
            chunk_counts.update(tf.keys())
        new_terms = sorted(chunk_counts)

        def write(conn: psycopg.Connection[Any]) -> None:
            nonlocal total
            self._serialise(conn)
            self._remove(conn, [c.id for c in unique])
            label = {g: self._labels.id_of(conn, g) for g in set(groups)}
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
                f"INSERT INTO {self._s}.frequencies (term, chunks) "
                "SELECT * FROM unnest(%s::text[], %s::int[]) "
                f"ON CONFLICT (term) DO UPDATE SET chunks = {self._s}.frequencies.chunks "
                "+ excluded.chunks",
                (new_terms, [chunk_counts[t] for t in new_terms]),
            )
            # The count after this write, for ``_maintain``, without another
            # round trip (it includes what other processes committed before).
            stats = conn.execute(
                f"UPDATE {self._s}.stats SET chunks = chunks + %s, terms = terms + %s "
                "RETURNING chunks",
                (len(unique), sum(lengths)),
            ).fetchone()
            total = int(stats[0]) if stats else 0

        self._db.write("write to", write)
        self._written_since_vacuum += len(unique)
        self._maintain(total)

    def delete_ids(self, ids: Sequence[str]) -> None:
        if not ids:
            return

        def write(conn: psycopg.Connection[Any]) -> None:
            self._serialise(conn)
            self._remove(conn, list(dict.fromkeys(ids)))

        self._db.write("write to", write)

    def search(self, query: str, k: int, *, audience: Audience) -> list[Hit]:
        wanted = list(dict.fromkeys(content_terms(query)))
        if not wanted or k <= 0 or audience.empty:
            return []
        rows = self._db.read(
            SEARCH_SQL.format(s=self._s),
            {
                "terms": wanted,
                "groups": sorted(audience.groups),
                "k": k,
                "rare": keyword_stages.RARE_TERMS,
                "two_stage_from": keyword_stages.TWO_STAGE_FROM,
                "candidates": keyword_stages.candidate_count(k),
            },
        )
        return [Hit(chunk=_row_to_chunk(row[:-1]), score=max(0.0, float(row[-1]))) for row in rows]

    def relabel(self, ids: Sequence[str], groups: Sequence[str]) -> None:
        if not ids:
            return
        wanted = normal_groups(groups)
        unique = list(dict.fromkeys(ids))

        def write(conn: psycopg.Connection[Any]) -> None:
            label = self._labels.id_of(conn, wanted)
            conn.execute(
                f"UPDATE {self._s}.chunks SET groups = %s, label = %s WHERE id = ANY(%s)",
                (list(wanted), label, unique),
            )
            conn.execute(
                f"UPDATE {self._s}.postings SET label = %s WHERE rid IN "
                f"(SELECT rid FROM {self._s}.chunks WHERE id = ANY(%s))",
                (label, unique),
            )

        self._db.write("write to", write)

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        unique = list(dict.fromkeys(terms))
        total = int(self._db.read(f"SELECT chunks FROM {self._s}.stats", {})[0][0])
        rows = self._db.read(
            f"SELECT term, chunks FROM {self._s}.frequencies WHERE term = ANY(%(t)s)",
            {"t": unique},
        )
        found = {str(term): int(n) for term, n in rows}
        return total, {term: found.get(term, 0) for term in unique}

    # -- extras for the answering side --------------------------------------

    def count(self) -> int:
        return int(self._db.read(f"SELECT chunks FROM {self._s}.stats", {})[0][0])

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        rows = self._db.read(
            f"SELECT {CHUNK_COLUMNS} FROM {self._s}.chunks WHERE id = ANY(%(ids)s)", {"ids": unique}
        )
        found = {chunk.id: chunk for chunk in map(_row_to_chunk, rows)}
        return [found[i] for i in ids if i in found]

    # -- Catalog (documents and meta: PostgresCatalog) ---------------------

    def catalog(self) -> dict[str, DocumentRecord]:
        return self._catalog.catalog()

    def record_document(self, record: DocumentRecord) -> None:
        self._catalog.record_document(record)

    def forget_document(self, source: str) -> None:
        self._catalog.forget_document(source)

    def periods(self, audience: Audience) -> frozenset[str]:
        return self._catalog.periods(audience)

    def get_meta(self, key: str) -> str | None:
        return self._catalog.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self._catalog.set_meta(key, value)

    def status(self) -> IndexStatus:
        return self._catalog.status()

    def ingestion_lock(self, wait_s: float) -> AbstractContextManager[None]:
        """One ingestion at a time, on any machine (``PostgresCatalog.ingestion_lock``)."""
        return self._catalog.ingestion_lock(wait_s)

    def clear(self) -> None:
        def reset(conn: psycopg.Connection[Any]) -> None:
            conn.execute(
                f"TRUNCATE {self._s}.postings, {self._s}.chunks, {self._s}.labels, "
                f"{self._s}.frequencies, "
                f"{self._s}.documents, {self._s}.meta RESTART IDENTITY"
            )
            conn.execute(f"UPDATE {self._s}.stats SET chunks = 0, terms = 0")
            conn.execute(
                f"INSERT INTO {self._s}.meta (key, value) VALUES ('schema_version', %s)",
                (SCHEMA_VERSION,),
            )

        self._db.write("reset", reset)
        self._labels.forget()

    # -- the chunk side of Catalog -------------------------------------------

    def ids_for_source(self, source: str) -> list[str]:
        rows = self._db.read(
            f"SELECT id FROM {self._s}.chunks WHERE source = %(s)s ORDER BY position, id",
            {"s": source},
        )
        return [str(row[0]) for row in rows]

    def unlabelled_ids(self) -> list[str]:
        rows = self._db.read(f"SELECT id FROM {self._s}.chunks WHERE cardinality(groups) = 0", {})
        return [str(row[0]) for row in rows]

    def stored_chunks(self) -> list[StoredChunk]:
        """Every chunk with its label, and whether its text and its postings
        are there with the same label (a chunk of no terms needs none)."""
        rows = self._db.read(
            f"SELECT c.id, c.source, c.groups, length(c.text) > 0, "
            f"(c.length = 0 OR EXISTS (SELECT 1 FROM {self._s}.postings p WHERE p.rid = c.rid)) "
            f"AND NOT EXISTS (SELECT 1 FROM {self._s}.postings p "
            f"WHERE p.rid = c.rid AND p.label <> c.label) "
            f"AND l.groups = c.groups "
            f"FROM {self._s}.chunks c JOIN {self._s}.labels l ON l.id = c.label",
            {},
        )
        return [
            StoredChunk(str(cid), str(source), stored_groups(groups), bool(text) and bool(indexed))
            for cid, source, groups, text, indexed in rows
        ]

    def sources(self) -> set[str]:
        return {
            str(r[0]) for r in self._db.read(f"SELECT DISTINCT source FROM {self._s}.chunks", {})
        }

    # -- internals ---------------------------------------------------------

    def _maintain(self, chunks: int) -> None:
        """``VACUUM (ANALYZE)`` once a fifth of the index (``chunks`` now) is
        new (at least 2,000 chunks): fresh planner statistics, and index-only
        scans that need not look at the table. Best effort: a failure is
        logged, never raised."""
        total = max(chunks, 1)
        if self._written_since_vacuum < max(2000, total // 5):
            return
        self._written_since_vacuum = 0
        started = time.monotonic()
        try:
            self._db.run(f"VACUUM (ANALYZE) {self._s}.postings")
            self._db.run(f"ANALYZE {self._s}.chunks")
            self._db.run(f"ANALYZE {self._s}.frequencies")
        except psycopg.Error as exc:
            log.warning("VACUUM of the keyword index failed (autovacuum will do it): %s", exc)
            return
        log.info(
            "vacuumed the keyword index (%d chunks) in %.1fs", total, time.monotonic() - started
        )

    def _serialise(self, conn: psycopg.Connection[Any]) -> None:
        """Writes to the postings take turns (until their transaction ends),
        so two writers can never deadlock on the rows of ``frequencies``
        they both change. Ingestion runs already take turns
        (``ingestion_lock``); this covers every other writer."""
        conn.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (WRITE_LOCK_CLASS, self._schema)
        )

    def _remove(self, conn: psycopg.Connection[Any], ids: list[str]) -> None:
        conn.execute(
            f"UPDATE {self._s}.frequencies f SET chunks = f.chunks - d.n FROM ("
            f"SELECT p.term, count(*) AS n FROM {self._s}.postings p "
            f"JOIN {self._s}.chunks c ON c.rid = p.rid WHERE c.id = ANY(%s) GROUP BY p.term"
            ") AS d WHERE f.term = d.term",
            (ids,),
        )
        conn.execute(
            f"DELETE FROM {self._s}.postings WHERE rid IN "
            f"(SELECT rid FROM {self._s}.chunks WHERE id = ANY(%s))",
            (ids,),
        )
        removed = conn.execute(
            f"DELETE FROM {self._s}.chunks WHERE id = ANY(%s) RETURNING length", (ids,)
        ).fetchall()
        if removed:
            conn.execute(
                f"UPDATE {self._s}.stats SET chunks = chunks - %s, terms = terms - %s",
                (len(removed), sum(int(r[0]) for r in removed)),
            )


def _row_to_chunk(row: Sequence[Any]) -> Chunk:
    return row_to_chunk(row, stored_groups)
