"""Keyword index and ingestion catalog in one SQLite file (FTS5, BM25).

Text is indexed pre-tokenised: each chunk's ``chatbot.text.terms`` joined by
spaces, so English words and Chinese character bigrams are split exactly as
the evidence gate and the verifier split them. FTS5's ``unicode61`` tokenizer
then only has to cut at spaces; it keeps the ``. ' -`` that may sit inside a
term (``u.s``, ``o'neil``) and leaves diacritics alone, so the terms FTS5 sees
are the terms ``chatbot.text`` produced.

Tables::

    chunks       the chunk text and metadata, one row per chunk id
    chunks_fts   FTS5 over the pre-tokenised text (column ``terms``) and the
                 chunk's access groups as tokens (column ``acl``, weight 0 in
                 bm25), rowid = chunks.rowid
    chunks_vocab fts5vocab(row) view of chunks_fts, for document frequencies
    documents    catalog: one row per ingested source file
    meta         settings the index was built with (embedder, chunking, schema)

Search takes the asker's ``Audience``: the FTS5 query restricts the
question's terms by the ``acl`` column (``sqlite_fts.access_query``), so the
inverted index itself keeps only chunks that share a group with the audience
*before* BM25 ranks and cuts to ``k``; another group's chunks never take a
place in the top ``k``. The ``acl`` column has weight 0, and chunks open to
everyone carry no acl token at all, so an index without restricted documents
scores exactly as it did without access control. (A ``rowid IN (subquery)``
filter was measured first: FTS5 then ran once per allowed rowid, 260-420 ms
at 5k chunks.) Term statistics (``document_frequencies``, ``count``) stay
corpus-wide: they are counts, never text (see the README's access section).

The parts: ``SqliteKeywordIndex`` here is the chunks and their search (what
``KeywordIndex`` and the chunk side of ``Catalog`` ask); it shares one
``sqlite_connection.SqliteDatabase`` (the file, WAL mode, the schema, the
connection's lock) with ``sqlite_catalog.SqliteCatalog`` (the documents
table and the ingestion lock), to which it hands the catalog calls.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from chatbot.access import Audience
from chatbot.adapters.chunk_rows import context_json, row_to_chunk
from chatbot.adapters.freshness import REFRESH_S
from chatbot.adapters.keyword_stages import candidate_count
from chatbot.adapters.sqlite_catalog import SqliteCatalog
from chatbot.adapters.sqlite_connection import SqliteDatabase
from chatbot.adapters.sqlite_fts import (
    access_query,
    acl_text,
    bm25_scores,
    decode_averages,
    rare_terms,
    worthless_terms,
)
from chatbot.adapters.sqlite_schema import CANDIDATES_SQL, CHUNK_COLUMNS, ROW, SEARCH_SQL
from chatbot.catalog import DocumentRecord, IndexStatus, StoredChunk
from chatbot.domain import Chunk, groups_from_label
from chatbot.protocols import Hit
from chatbot.text import content_terms, terms

# SQLite's default limit on host parameters is 32766 since 3.32; stay well below.
_IN_BATCH = 500


class SqliteKeywordIndex:
    """``KeywordIndex`` and ``Catalog`` over one SQLite file.

    With ``create=False`` a missing file raises ``IndexMissingError`` instead of
    being created empty (for the answering side).
    """

    def __init__(self, path: Path, *, create: bool = True, refresh_s: float = REFRESH_S) -> None:
        self._db = SqliteDatabase(path, create=create, refresh_s=refresh_s)
        self._catalog = SqliteCatalog(self._db)

    @property
    def path(self) -> Path:
        return self._db.path

    def close(self) -> None:
        self._db.close()

    # -- KeywordIndex ------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        with self._db.transaction() as db:
            for chunk in chunks:
                self._delete_one(db, chunk.id)
                cursor = db.execute(
                    f"INSERT INTO chunks ({CHUNK_COLUMNS}) VALUES ({','.join('?' * ROW)})",
                    (
                        chunk.id,
                        chunk.text,
                        chunk.source,
                        chunk.title,
                        chunk.page,
                        chunk.section,
                        chunk.language,
                        chunk.content_hash,
                        chunk.file_hash,
                        chunk.position,
                        context_json(chunk.context),
                        ",".join(chunk.groups),
                    ),
                )
                # The context line is indexed with the text: "2024" finds the
                # 2024 report's chunks though their text never says so.
                db.execute(
                    "INSERT INTO chunks_fts (rowid, terms, acl) VALUES (?, ?, ?)",
                    (
                        cursor.lastrowid,
                        " ".join(terms(chunk.indexed_text())),
                        acl_text(chunk.groups),
                    ),
                )

    def delete_ids(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._db.transaction() as db:
            for chunk_id in dict.fromkeys(ids):
                self._delete_one(db, chunk_id)

    def search(self, query: str, k: int, *, audience: Audience) -> list[Hit]:
        terms = content_terms(query)
        if k <= 0 or not terms:
            return []
        total, frequencies = self.document_frequencies(terms)
        skip = worthless_terms(total, frequencies)
        kept = [t for t in frequencies if t not in skip and frequencies[t] > 0]
        rare = rare_terms(total, kept, frequencies)
        if rare is not None:
            return self._two_stage(query, k, audience, skip | (set(kept) - rare), kept, frequencies)
        match = access_query(query, audience, skip)
        if not match:
            return []
        rows = self._db.read(SEARCH_SQL, (match, k))
        # bm25() is negative, more negative is better; flip it. max() guards the
        # contract (score >= 0) against FTS5's tiny floor for very common terms.
        return [
            Hit(chunk=_row_to_chunk(row[:ROW]), score=max(0.0, -float(row[ROW]))) for row in rows
        ]

    def _two_stage(
        self,
        query: str,
        k: int,
        audience: Audience,
        skip: set[str],
        kept: list[str],
        frequencies: dict[str, int],
    ) -> list[Hit]:
        """Top ``k`` for a long question on a large index: candidates from
        FTS5 through the rarest terms (all but ``skip``; within the audience,
        as every search), each then scored on every kept term exactly as FTS5's
        bm25 would (``sqlite_fts.bm25_scores``). What can differ from the
        one-stage search: a chunk that shares only common terms with the
        question and is not among the candidates."""
        match = access_query(query, audience, skip)
        if not match:
            return []
        with self._db.lock:
            found = self._db.read(CANDIDATES_SQL, (match, candidate_count(k)))
            averages = self._db.read("SELECT block FROM chunks_fts_data WHERE id = 1", ())
            if not found or not averages:
                return []
            rowids = [row[0] for row in found]
            marks = ",".join("?" * len(rowids))
            texts = self._db.read(
                f"SELECT rowid, terms, acl FROM chunks_fts WHERE rowid IN ({marks})", rowids
            )
            total_rows, total_tokens = decode_averages(averages[0][0])
            scores = bm25_scores(texts, kept, frequencies, total_rows, total_tokens)
            best = sorted(scores, key=lambda r: (-scores[r], r))[:k]
            marks = ",".join("?" * len(best))
            rows = self._db.read(
                f"SELECT rowid, {CHUNK_COLUMNS} FROM chunks WHERE rowid IN ({marks})", best
            )
        chunks = {row[0]: _row_to_chunk(row[1:]) for row in rows}
        return [Hit(chunk=chunks[r], score=max(0.0, scores[r])) for r in best if r in chunks]

    def relabel(self, ids: Sequence[str], groups: Sequence[str]) -> None:
        """Give the chunks ``ids`` the access ``groups`` (nothing else changes;
        unknown ids are ignored)."""
        label = ",".join(sorted(set(groups)))
        with self._db.transaction() as db:
            for chunk_id in dict.fromkeys(ids):
                row = db.execute("SELECT rowid FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
                if row is None:
                    continue
                db.execute("UPDATE chunks SET groups = ? WHERE rowid = ?", (label, row[0]))
                db.execute(
                    "UPDATE chunks_fts SET acl = ? WHERE rowid = ?",
                    (acl_text(sorted(set(groups))), row[0]),
                )

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        with self._db.lock:
            total = int(self._db.read("SELECT count(*) FROM chunks", ())[0][0])
            freqs: dict[str, int] = {}
            for term in dict.fromkeys(terms):
                rows = self._db.read("SELECT doc FROM chunks_vocab WHERE term = ?", (term,))
                freqs[term] = int(rows[0][0]) if rows else 0
        return total, freqs

    # -- extras for the answering side --------------------------------------

    def count(self) -> int:
        return int(self._db.read("SELECT count(*) FROM chunks", ())[0][0])

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks among ``ids``, in the order asked; unknown ids skipped."""
        found: dict[str, Chunk] = {}
        unique = list(dict.fromkeys(ids))
        with self._db.lock:
            for start in range(0, len(unique), _IN_BATCH):
                part = unique[start : start + _IN_BATCH]
                marks = ",".join("?" * len(part))
                for row in self._db.read(
                    f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks})", part
                ):
                    chunk = _row_to_chunk(row)
                    found[chunk.id] = chunk
        return [found[i] for i in ids if i in found]

    # -- Catalog (the documents table: SqliteCatalog) ------------------------

    def catalog(self) -> dict[str, DocumentRecord]:
        return self._catalog.catalog()

    def record_document(self, record: DocumentRecord) -> None:
        self._catalog.record_document(record)

    def forget_document(self, source: str) -> None:
        self._catalog.forget_document(source)

    def periods(self, audience: Audience) -> frozenset[str]:
        """Every declared or detected period of a document ``audience`` may see."""
        return self._catalog.periods(audience)

    def status(self) -> IndexStatus:
        return self._catalog.status()

    def ingestion_lock(self, wait_s: float) -> AbstractContextManager[None]:
        """One ingestion at a time on this machine (``SqliteCatalog.ingestion_lock``)."""
        return self._catalog.ingestion_lock(wait_s)

    def get_meta(self, key: str) -> str | None:
        return self._db.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self._db.set_meta(key, value)

    def clear(self) -> None:
        self._db.reset()

    # -- the chunk side of Catalog -------------------------------------------

    def ids_for_source(self, source: str) -> list[str]:
        rows = self._db.read("SELECT id FROM chunks WHERE source = ? ORDER BY position", (source,))
        return [row[0] for row in rows]

    def unlabelled_ids(self) -> list[str]:
        """Chunks with no access group (an index from before access control,
        or documents no rule covers)."""
        return [row[0] for row in self._db.read("SELECT id FROM chunks WHERE groups = ''", ())]

    def stored_chunks(self) -> list[StoredChunk]:
        """Every chunk's id, source and label, and whether its text and its
        search row with the same label are there (``ChunkInventory``, for
        ``chatbot-ingest --check``). One pass, no text read back."""
        rows = self._db.read(
            "SELECT c.id, c.source, c.groups, length(c.text) > 0, f.rowid IS NOT NULL, f.acl "
            "FROM chunks AS c LEFT JOIN chunks_fts AS f ON f.rowid = c.rowid",
            (),
        )
        # A corpus has few distinct labels: parse each once (a third of the
        # time at 100k chunks otherwise).
        parsed: dict[str, tuple[tuple[str, ...], str]] = {}
        found = []
        for chunk_id, source, label, has_text, has_terms, acl in rows:
            if label not in parsed:
                groups = groups_from_label(label)
                parsed[label] = (groups, acl_text(groups))
            groups, expected = parsed[label]
            complete = bool(has_text) and bool(has_terms) and acl == expected
            found.append(StoredChunk(str(chunk_id), str(source), groups, complete))
        return found

    def sources(self) -> set[str]:
        return {row[0] for row in self._db.read("SELECT DISTINCT source FROM chunks", ())}

    # -- internals ---------------------------------------------------------

    def _delete_one(self, db: sqlite3.Connection, chunk_id: str) -> None:
        row = db.execute("SELECT rowid FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        if row is None:
            return
        db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (row[0],))
        db.execute("DELETE FROM chunks WHERE rowid = ?", (row[0],))


def _row_to_chunk(row: Sequence[Any]) -> Chunk:
    return row_to_chunk(row, groups_from_label)
