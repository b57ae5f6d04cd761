"""The keyword index's SQLite schema: tables, migrations and the search
statement (``chatbot.adapters.sqlite_keyword`` describes what each table
holds and why)."""

from __future__ import annotations

SCHEMA_VERSION = "3"  # 2: document context per chunk and per document; 3: access groups

TOKENIZE = "unicode61 remove_diacritics 0 tokenchars '.''-'"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    page INTEGER,
    section TEXT NOT NULL,
    language TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    position INTEGER NOT NULL,
    context TEXT NOT NULL DEFAULT '{{}}',
    groups TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(terms, acl, tokenize="{TOKENIZE}");
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, row);
CREATE TABLE IF NOT EXISTS documents (
    source TEXT PRIMARY KEY,
    file_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    pages INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    chunk_ids TEXT NOT NULL,
    language TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '{{}}',
    period_from TEXT NOT NULL DEFAULT '',
    groups TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Schema 1 -> 2: the context columns, empty; sync then re-chunks every file
# (the chunker's version changed with them), which fills them in.
MIGRATE_1_TO_2 = """
ALTER TABLE chunks ADD COLUMN context TEXT NOT NULL DEFAULT '{}';
ALTER TABLE documents ADD COLUMN context TEXT NOT NULL DEFAULT '{}';
ALTER TABLE documents ADD COLUMN period_from TEXT NOT NULL DEFAULT '';
"""

# Schema 2 -> 3: access groups, empty, and the FTS table gets its acl
# column (rebuilt from the chunks table, see _check_schema). A chunk with no
# group is shown to nobody until sync labels it from the access rules (it
# relabels every document whose recorded groups differ, without re-embedding).
MIGRATE_2_TO_3 = f"""
ALTER TABLE chunks ADD COLUMN groups TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN groups TEXT NOT NULL DEFAULT '';
DROP TABLE IF EXISTS chunks_vocab;
DROP TABLE IF EXISTS chunks_fts;
CREATE VIRTUAL TABLE chunks_fts USING fts5(terms, acl, tokenize="{TOKENIZE}");
CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, row);
"""

DROP = """
DROP TABLE IF EXISTS chunks_vocab;
DROP TABLE IF EXISTS chunks_fts;
DROP TABLE IF EXISTS chunks;
DROP TABLE IF EXISTS documents;
DROP TABLE IF EXISTS meta;
"""

CHUNK_COLUMNS = (
    "id, text, source, title, page, section, language, content_hash, file_hash, position, "
    "context, groups"
)
ROW = len(CHUNK_COLUMNS.split(", "))

# Rank inside FTS5 first (the inverted index; the hidden ``rank`` column is
# configured as bm25() with the acl column weighted 0, see RANK, and ORDER BY
# rank LIMIT k is FTS5's optimised top-k path), then fetch only those k rows
# by primary key.
SEARCH_SQL = f"""
    SELECT {", ".join("c." + col for col in CHUNK_COLUMNS.split(", "))}, r.rank
    FROM (
        SELECT rowid, rank FROM chunks_fts
        WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?
    ) AS r
    JOIN chunks AS c ON c.rowid = r.rowid
    ORDER BY r.rank
"""


# The first stage of a long question's search (SqliteKeywordIndex._two_stage).
CANDIDATES_SQL = "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?"


# Stored in the FTS table's config; set on every open (idempotent).
RANK = "INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('rank', 'bm25(1.0, 0.0)')"
