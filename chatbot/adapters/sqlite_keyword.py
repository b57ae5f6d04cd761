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
question's terms by the ``acl`` column (``access_query``), so the inverted
index itself keeps only chunks that share a group with the audience *before*
BM25 ranks and cuts to ``k``; another group's chunks never take a place in
the top ``k``. The ``acl`` column has weight 0, and chunks open to everyone
carry no acl token at all, so an index without restricted documents scores
exactly as it did without access control. (A ``rowid IN (subquery)`` filter was measured first: FTS5
then ran once per allowed rowid, 260-420 ms at 5k chunks.) Term
statistics (``document_frequencies``, ``count``) stay corpus-wide: they are
counts, never text (see the README's access section).

The database runs in WAL mode so the answering side can read while ingestion
writes. One connection is shared behind a lock, which makes the object safe
to use from a web server's worker threads. Every read sees what another
process committed; only a file deleted and made anew (the index folder
removed and ingested again) would go unseen, since a connection keeps the
file it opened, so at most once per ``refresh_s`` a read checks the file is
still the one opened, and reconnects if not.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatbot.access import Audience
from chatbot.adapters.chunk_rows import context_from_json, context_json, row_to_chunk
from chatbot.adapters.freshness import REFRESH_S, file_identity
from chatbot.adapters.sqlite_schema import (
    CHUNK_COLUMNS,
    DROP,
    MIGRATE_1_TO_2,
    MIGRATE_2_TO_3,
    RANK,
    ROW,
    SCHEMA,
    SCHEMA_VERSION,
    SEARCH_SQL,
)
from chatbot.catalog import DocumentRecord, IndexStatus, StoredChunk
from chatbot.domain import EVERYONE, Chunk, groups_from_label
from chatbot.errors import BoundaryError, ConfigurationError, IndexMissingError
from chatbot.protocols import Hit
from chatbot.text import content_terms, terms

log = logging.getLogger(__name__)


def group_token(group: str) -> str:
    """The token a group is indexed as: letters and digits only, so that no
    group name ('grp.board@bank') is split or read as FTS5 syntax."""
    return "acl" + hashlib.sha256(group.encode("utf-8")).hexdigest()[:24]


# Marks a chunk that ``everyone`` may not see.
RESTRICTED = group_token("\x00restricted")


def acl_text(groups: Sequence[str]) -> str:
    """The acl column of a chunk in ``groups``. A chunk open to ``everyone``
    carries only its other groups, usually none: FTS5's bm25 normalises by the
    length of the whole row, so an index with no restricted document scores
    exactly as one without access control. Any other chunk carries
    ``RESTRICTED`` and its groups."""
    others = [group_token(g) for g in sorted(set(groups)) if g != EVERYONE]
    return " ".join(others if EVERYONE in groups else [RESTRICTED, *others])


def access_query(query: str, audience: Audience) -> str:
    """The FTS5 query for ``query`` restricted to ``audience`` ('' when no
    chunk could match): an audience holding ``everyone`` excludes restricted
    chunks that share none of its other groups; any other audience needs one
    of its groups."""
    match = fts_query(query)
    if not match or audience.empty:
        return ""
    tokens = [group_token(g) for g in sorted(audience.groups) if g != EVERYONE]
    mine = " OR ".join(tokens)
    if EVERYONE not in audience.groups:
        return f"terms : ({match}) AND acl : ({mine})" if tokens else ""
    if not tokens:
        return f"terms : ({match}) NOT acl : {RESTRICTED}"
    return f"terms : ({match}) NOT (acl : {RESTRICTED} NOT acl : ({mine}))"


# SQLite's default limit on host parameters is 32766 since 3.32; stay well below.
_IN_BATCH = 500


def fts_query(query: str) -> str:
    """An FTS5 query that ORs the quoted content terms of ``query`` ('' if none).

    Quoting makes every term a literal string, so user text can never inject
    FTS5 operators (AND, NEAR, column filters, '*').
    """
    quoted = ['"' + term.replace('"', '""') + '"' for term in content_terms(query)]
    return " OR ".join(quoted)


class SqliteKeywordIndex:
    """``KeywordIndex`` and ``Catalog`` over one SQLite file.

    With ``create=False`` a missing file raises ``IndexMissingError`` instead of
    being created empty (for the answering side).
    """

    def __init__(self, path: Path, *, create: bool = True, refresh_s: float = REFRESH_S) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._refresh_s = refresh_s
        self._looked_at = time.monotonic()
        if not create and not path.exists():
            raise IndexMissingError(
                f"no keyword index at {path}: run `chatbot-ingest` first "
                "(or set CHATBOT_INDEX__PATH)"
            )
        self._db = self._connect()
        self._check_schema()
        with self._lock:
            try:
                self._db.execute(RANK)
            except sqlite3.Error as exc:
                raise self._error("configure", exc) from exc

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- KeywordIndex ------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        with self._transaction() as db:
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
        with self._transaction() as db:
            for chunk_id in dict.fromkeys(ids):
                self._delete_one(db, chunk_id)

    def search(self, query: str, k: int, *, audience: Audience) -> list[Hit]:
        match = access_query(query, audience)
        if not match or k <= 0:
            return []
        with self._lock:
            rows = self._read(SEARCH_SQL, (match, k))
        # bm25() is negative, more negative is better; flip it. max() guards the
        # contract (score >= 0) against FTS5's tiny floor for very common terms.
        return [
            Hit(chunk=_row_to_chunk(row[:ROW]), score=max(0.0, -float(row[ROW]))) for row in rows
        ]

    def relabel(self, ids: Sequence[str], groups: Sequence[str]) -> None:
        """Give the chunks ``ids`` the access ``groups`` (nothing else changes;
        unknown ids are ignored)."""
        label = ",".join(sorted(set(groups)))
        with self._transaction() as db:
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
        with self._lock:
            total = int(self._read("SELECT count(*) FROM chunks", ())[0][0])
            freqs: dict[str, int] = {}
            for term in dict.fromkeys(terms):
                rows = self._read("SELECT doc FROM chunks_vocab WHERE term = ?", (term,))
                freqs[term] = int(rows[0][0]) if rows else 0
        return total, freqs

    # -- extras for the answering side --------------------------------------

    def count(self) -> int:
        with self._lock:
            return int(self._read("SELECT count(*) FROM chunks", ())[0][0])

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks among ``ids``, in the order asked; unknown ids skipped."""
        found: dict[str, Chunk] = {}
        unique = list(dict.fromkeys(ids))
        with self._lock:
            for start in range(0, len(unique), _IN_BATCH):
                part = unique[start : start + _IN_BATCH]
                marks = ",".join("?" * len(part))
                for row in self._read(
                    f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks})", part
                ):
                    chunk = _row_to_chunk(row)
                    found[chunk.id] = chunk
        return [found[i] for i in ids if i in found]

    def periods(self, audience: Audience) -> frozenset[str]:
        """Every declared or detected period of a document ``audience`` may see."""
        with self._lock:
            found = self._read(
                "SELECT DISTINCT json_extract(context, '$.period'), groups FROM documents "
                "WHERE period_from != ''",
                (),
            )
        return frozenset(
            str(row[0]) for row in found if row[0] and audience.allows(groups_from_label(row[1]))
        )

    # -- Catalog -----------------------------------------------------------

    def catalog(self) -> dict[str, DocumentRecord]:
        with self._lock:
            rows = self._read(
                "SELECT source, file_hash, title, pages, chunk_ids, language, ingested_at, "
                "context, period_from, groups FROM documents ORDER BY source",
                (),
            )
        return {
            row[0]: DocumentRecord(
                source=row[0],
                file_hash=row[1],
                title=row[2],
                pages=int(row[3]),
                chunk_ids=tuple(json.loads(row[4])),
                language=row[5],
                ingested_at=datetime.fromisoformat(row[6]),
                context=context_from_json(row[7]),
                period_from=row[8],
                groups=groups_from_label(row[9]),
            )
            for row in rows
        }

    def record_document(self, record: DocumentRecord) -> None:
        with self._transaction() as db:
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
        with self._transaction() as db:
            db.execute("DELETE FROM documents WHERE source = ?", (source,))

    def ids_for_source(self, source: str) -> list[str]:
        with self._lock:
            rows = self._read("SELECT id FROM chunks WHERE source = ? ORDER BY position", (source,))
        return [row[0] for row in rows]

    def unlabelled_ids(self) -> list[str]:
        """Chunks with no access group (an index from before access control,
        or documents no rule covers)."""
        with self._lock:
            return [row[0] for row in self._read("SELECT id FROM chunks WHERE groups = ''", ())]

    def stored_chunks(self) -> list[StoredChunk]:
        """Every chunk's id, source and label, and whether its text and its
        search row with the same label are there (``ChunkInventory``, for
        ``chatbot-ingest --check``). One pass, no text read back."""
        with self._lock:
            rows = self._read(
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
        with self._lock:
            return {row[0] for row in self._read("SELECT DISTINCT source FROM chunks", ())}

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def clear(self) -> None:
        with self._lock:
            try:
                self._db.executescript(DROP + SCHEMA)
                self._db.execute(RANK)
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
            except sqlite3.Error as exc:
                raise self._error("reset", exc) from exc

    def status(self) -> IndexStatus:
        with self._lock:
            docs, pages, last = self._read(
                "SELECT count(*), coalesce(sum(pages), 0), max(ingested_at) FROM documents", ()
            )[0]
            chunks = self.count()
            embedder = self.get_meta("embedder")
        return IndexStatus(
            documents=int(docs),
            pages=int(pages),
            chunks=chunks,
            last_ingested_at=datetime.fromisoformat(last) if last else None,
            embedder=embedder,
        )

    @contextmanager
    def ingestion_lock(self, wait_s: float) -> Iterator[None]:
        """An exclusive ``flock`` on ``<index>.lock`` for one whole run, so two
        ingestions on this machine take turns (the kernel releases it when
        the holder dies, even by SIGKILL)."""
        lock_path = self._path.with_name(self._path.name + ".lock")
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
                            f"another ingestion into {self._path.parent} is still running "
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

    # -- internals ---------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        path = self._path
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

    def _follow_replaced(self) -> None:
        """Reconnect when the file is no longer the one opened (looked at
        most once per ``refresh_s``; while it is missing, the old one serves)."""
        now = time.monotonic()
        if now - self._looked_at < self._refresh_s:
            return
        with self._lock:
            self._looked_at = now
            found = file_identity(self._path)
            if found is None or found == self._identity:
                return
            old, self._db = self._db, self._connect()
            old.close()
            try:
                self._db.execute(RANK)
            except sqlite3.Error as exc:
                raise self._error("configure", exc) from exc
        log.info("the keyword index at %s was replaced; reconnected", self._path)

    def _check_schema(self) -> None:
        found = self.get_meta("schema_version")
        for old, script in (("1", MIGRATE_1_TO_2), ("2", MIGRATE_2_TO_3)):
            if found != old:
                continue
            with self._lock:
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
                f"the keyword index at {self._path} has schema version {found}, this "
                f"version needs {SCHEMA_VERSION}: delete {self._path.parent} and run "
                "`chatbot-ingest` again"
            )

    def _refill_fts(self) -> None:
        """Re-index every stored chunk's terms (after the FTS table was rebuilt);
        no group yet: sync labels them."""
        rows = self._db.execute(f"SELECT rowid, {CHUNK_COLUMNS} FROM chunks").fetchall()
        self._db.execute("BEGIN IMMEDIATE")
        self._db.executemany(
            "INSERT INTO chunks_fts (rowid, terms, acl) VALUES (?, ?, '')",
            [(row[0], " ".join(terms(_row_to_chunk(row[1:]).indexed_text()))) for row in rows],
        )
        self._db.execute("COMMIT")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
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

    def _read(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        self._follow_replaced()
        try:
            return list(self._db.execute(sql, tuple(params)).fetchall())
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc

    def _delete_one(self, db: sqlite3.Connection, chunk_id: str) -> None:
        row = db.execute("SELECT rowid FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        if row is None:
            return
        db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (row[0],))
        db.execute("DELETE FROM chunks WHERE rowid = ?", (row[0],))

    def _error(self, action: str, exc: sqlite3.Error) -> BoundaryError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            hint = "another ingestion is probably running; wait for it and retry"
        elif "readonly" in text or "unable to open" in text:
            hint = "check that the index folder is writable (CHATBOT_INDEX__PATH)"
        else:
            hint = "if the file is damaged, run `chatbot-ingest --rebuild`"
        return BoundaryError(f"cannot {action} the keyword index at {self._path}: {text}: {hint}")


def _row_to_chunk(row: Sequence[Any]) -> Chunk:
    return row_to_chunk(row, groups_from_label)
