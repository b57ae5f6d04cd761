"""The keyword index's PostgreSQL schema: tables, the migration list and how
it is applied (``open_schema``), how groups are stored, and the BM25 search
statement (``chatbot.adapters.pg_keyword`` says why each table exists).
Every statement names the schema through ``{s}`` (a quoted identifier from
``quoted_schema``, filled in by the adapter), so several indexes can share
one database.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg

from chatbot.adapters.pg_connection import Database
from chatbot.errors import ConfigurationError, IndexMissingError

log = logging.getLogger(__name__)

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# First key of the two-int advisory locks this adapter takes ("Bd").
_LOCK_CLASS = 0x4264
_MIGRATE = "migrate:"

SCHEMA_VERSION = "2"

# BM25 parameters, the same as SQLite FTS5's bm25() uses, so both backends
# rank alike.
K1 = 1.2
B = 0.75

# Each migration takes the schema from the version before it to its own
# number; they run in order inside one transaction under an advisory lock,
# so replicas starting together migrate once.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "1",
        """
        CREATE TABLE IF NOT EXISTS {s}.meta (
            key text PRIMARY KEY,
            value text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {s}.labels (
            id serial PRIMARY KEY,
            groups text[] NOT NULL UNIQUE
        );
        CREATE TABLE IF NOT EXISTS {s}.chunks (
            rid bigserial PRIMARY KEY,
            id text NOT NULL UNIQUE,
            text text NOT NULL,
            source text NOT NULL,
            title text NOT NULL,
            page integer,
            section text NOT NULL,
            language text NOT NULL,
            content_hash text NOT NULL,
            file_hash text NOT NULL,
            position integer NOT NULL,
            context text NOT NULL DEFAULT '{{}}',
            groups text[] NOT NULL DEFAULT '{{}}',
            label integer NOT NULL REFERENCES {s}.labels (id),
            length integer NOT NULL
        );
        CREATE INDEX IF NOT EXISTS chunks_source ON {s}.chunks (source);
        CREATE TABLE IF NOT EXISTS {s}.postings (
            term text NOT NULL,
            rid bigint NOT NULL REFERENCES {s}.chunks (rid) ON DELETE CASCADE,
            tf integer NOT NULL,
            dl integer NOT NULL,
            label integer NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS postings_term
            ON {s}.postings (term, rid) INCLUDE (tf, dl, label);
        CREATE INDEX IF NOT EXISTS postings_rid ON {s}.postings (rid);
        CREATE TABLE IF NOT EXISTS {s}.stats (
            one integer PRIMARY KEY CHECK (one = 1),
            chunks bigint NOT NULL,
            terms bigint NOT NULL
        );
        INSERT INTO {s}.stats (one, chunks, terms) VALUES (1, 0, 0) ON CONFLICT DO NOTHING;
        CREATE TABLE IF NOT EXISTS {s}.documents (
            source text PRIMARY KEY,
            file_hash text NOT NULL,
            title text NOT NULL,
            pages integer NOT NULL,
            chunk_ids text NOT NULL,
            language text NOT NULL,
            ingested_at timestamptz NOT NULL,
            context text NOT NULL DEFAULT '{{}}',
            period_from text NOT NULL DEFAULT '',
            groups text[] NOT NULL DEFAULT '{{}}'
        );
        """,
    ),
    (
        # Document frequencies kept by every write (counting a common term's
        # postings at each search cost milliseconds per term at 100k chunks
        # and grows with the corpus); filled from the postings once here.
        # The postings' foreign key goes: checking it for each of a chunk's
        # ~130 postings was a third of a write (``benchmarks/scale_bench.py``);
        # the adapter deletes a chunk's postings with it, in one transaction.
        "2",
        """
        CREATE TABLE IF NOT EXISTS {s}.frequencies (
            term text PRIMARY KEY,
            chunks integer NOT NULL
        );
        INSERT INTO {s}.frequencies (term, chunks)
            SELECT term, count(*) FROM {s}.postings GROUP BY term
            ON CONFLICT (term) DO UPDATE SET chunks = excluded.chunks;
        ALTER TABLE {s}.postings DROP CONSTRAINT IF EXISTS postings_rid_fkey;
        """,
    ),
)

TABLES = ("meta", "labels", "chunks", "postings", "stats", "frequencies", "documents")

CHUNK_COLUMNS = (
    "id, text, source, title, page, section, language, content_hash, file_hash, position, "
    "context, groups"
)

# The top k chunks for the question's terms that the audience may see, by
# BM25 with the corpus statistics kept in ``stats`` and ``frequencies``
# (corpus-wide, like SQLite's), in two stages (``keyword_stages``): the
# ``%(rare)s`` rarest terms (all of them below ``%(two_stage_from)s`` chunks)
# find ``%(candidates)s`` candidates; when that was every term their score
# is final, otherwise each candidate is scored on every term, one index
# probe per (term, candidate) (``LIMIT 1`` keeps the planner from turning
# the probes into a scan of every candidate's postings). Postings are read
# from the covering index (term, rid) INCLUDE (tf, dl, label): the chunk's
# length and access label sit in the posting, so ranking never visits the
# chunks table; ``allowed`` is the few distinct labels that share a group
# with the audience, applied before any cut. Only the k winners' chunks are
# read. (``LIMIT 1`` on ``st`` tells the planner it is one row.)
_TERM_SCORE = f"idf * p.tf * ({K1} + 1) / (p.tf + {K1} * (1 - {B} + {B} * p.dl / st.avgdl))"
SEARCH_SQL = f"""
WITH q AS (SELECT DISTINCT unnest(%(terms)s::text[]) AS term),
allowed AS (SELECT id FROM {{s}}.labels WHERE groups && %(groups)s::text[]),
st AS MATERIALIZED (SELECT greatest(chunks, 1)::float8 AS n,
              greatest(terms::float8 / greatest(chunks, 1), 1e-9) AS avgdl
       FROM {{s}}.stats LIMIT 1),
df AS MATERIALIZED (
    SELECT q.term, f.chunks,
           ln(1 + (st.n - f.chunks + 0.5) / (f.chunks + 0.5)) AS idf
    FROM q JOIN {{s}}.frequencies f ON f.term = q.term CROSS JOIN st
    WHERE f.chunks > 0),
first AS MATERIALIZED (
    SELECT term, idf FROM df ORDER BY chunks, term
    LIMIT (SELECT CASE WHEN st.n >= %(two_stage_from)s THEN %(rare)s::bigint END FROM st)),
candidates AS MATERIALIZED (
    SELECT p.rid, sum({_TERM_SCORE}) AS score
    FROM first
    CROSS JOIN st
    JOIN LATERAL (
        SELECT x.rid, x.tf, x.dl, x.label FROM {{s}}.postings x WHERE x.term = first.term
    ) AS p ON true
    WHERE p.label IN (SELECT id FROM allowed)
    GROUP BY p.rid
    ORDER BY score DESC, p.rid
    LIMIT %(candidates)s
),
scored AS (
    SELECT rid, score FROM candidates
    WHERE (SELECT count(*) FROM first) = (SELECT count(*) FROM df)
    UNION ALL
    SELECT c.rid, sum({_TERM_SCORE}) AS score
    FROM candidates c
    CROSS JOIN df
    CROSS JOIN st
    JOIN LATERAL (
        SELECT x.tf, x.dl FROM {{s}}.postings x WHERE x.term = df.term AND x.rid = c.rid
        LIMIT 1
    ) AS p ON true
    WHERE (SELECT count(*) FROM first) < (SELECT count(*) FROM df)
    GROUP BY c.rid
),
best AS (SELECT rid, score FROM scored ORDER BY score DESC, rid LIMIT %(k)s)
SELECT {", ".join("c." + col for col in CHUNK_COLUMNS.split(", "))}, best.score
FROM best JOIN {{s}}.chunks c ON c.rid = best.rid
ORDER BY best.score DESC, best.rid
"""


def quoted_schema(schema: str) -> str:
    """``schema`` as a quoted identifier, once it is known to be a plain name."""
    if not _SCHEMA_NAME.match(schema):
        raise ConfigurationError(
            f"CHATBOT_INDEX__POSTGRES_SCHEMA {schema!r} is not a plain lower-case "
            "name (letters, digits, underscore; at most 63): choose one such as 'boundary'"
        )
    return f'"{schema}"'


def stored_groups(value: object) -> tuple[str, ...]:
    """Groups as stored (text[]); anything else reads as none (fails closed)."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(sorted({str(g).strip() for g in value if str(g).strip()}))


def open_schema(db: Database, schema: str, *, create: bool) -> None:
    """Make ``schema``'s tables or bring them to ``SCHEMA_VERSION`` (with
    ``create``); without, check that they exist at this version."""
    s = quoted_schema(schema)
    where = db.where
    if create:
        _migrate(db, schema)
        return
    if db.read("SELECT to_regclass(%(t)s)", {"t": f"{s}.meta"})[0][0] is None:
        raise IndexMissingError(
            f"no keyword index in schema {schema!r} of {where}: run "
            "`chatbot-ingest` first (or set CHATBOT_INDEX__POSTGRES_SCHEMA)"
        )
    rows = db.read(f"SELECT value FROM {s}.meta WHERE key = 'schema_version'", {})
    found = str(rows[0][0]) if rows else None
    if found != SCHEMA_VERSION:
        raise ConfigurationError(
            f"the keyword index in schema {schema!r} of {where} has schema "
            f"version {found}, this version needs {SCHEMA_VERSION}: run `chatbot-ingest` "
            "once with this version (it migrates)"
        )


def _migrate(db: Database, schema: str) -> None:
    s = quoted_schema(schema)

    def migrate(conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, _MIGRATE + schema)
        )
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
        exists = conn.execute("SELECT to_regclass(%s)", (f"{s}.meta",)).fetchone()
        found = None
        if exists and exists[0] is not None:
            row = conn.execute(
                f"SELECT value FROM {s}.meta WHERE key = 'schema_version'"
            ).fetchone()
            found = str(row[0]) if row else None
        versions = [v for v, _ in MIGRATIONS]
        if found is not None and found not in versions:
            raise ConfigurationError(
                f"the keyword index in schema {schema!r} of {db.where} has "
                f"schema version {found}, this version knows {', '.join(versions)}: "
                "upgrade the application, or use a new CHATBOT_INDEX__POSTGRES_SCHEMA and "
                "run `chatbot-ingest`"
            )
        start = 0 if found is None else versions.index(found) + 1
        for version, script in MIGRATIONS[start:]:
            conn.execute(script.format(s=s))
            conn.execute(
                f"INSERT INTO {s}.meta (key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (version,),
            )
            log.info("PostgreSQL schema %s migrated to version %s", schema, version)

    db.write("create the tables of", migrate)
