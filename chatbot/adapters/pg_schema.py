"""The keyword index's PostgreSQL schema: tables, the migration list and the
BM25 search statement (``chatbot.adapters.pg_keyword`` says why each table
exists). Every statement names the schema through ``{s}`` (a quoted
identifier filled in by the adapter), so several indexes can share one
database.
"""

from __future__ import annotations

SCHEMA_VERSION = "1"

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
)

TABLES = ("meta", "labels", "chunks", "postings", "stats", "documents")

CHUNK_COLUMNS = (
    "id, text, source, title, page, section, language, content_hash, file_hash, position, "
    "context, groups"
)

# Score every chunk that holds a question term and that the audience may see,
# before the cut to k, with the corpus statistics kept in ``stats``; then
# read back only the k winners. Each term's postings are read from the
# covering index (term, rid) INCLUDE (tf, dl, label): the chunk's length and
# access label sit in the posting, so ranking never visits the chunks table;
# ``allowed`` is the few distinct labels that share a group with the
# audience. Document frequencies are counted from the postings themselves
# (corpus-wide, like SQLite's), so they never drift from what is stored.
SEARCH_SQL = f"""
WITH q AS (SELECT DISTINCT unnest(%(terms)s::text[]) AS term),
allowed AS (SELECT id FROM {{s}}.labels WHERE groups && %(groups)s::text[]),
st AS MATERIALIZED (SELECT greatest(chunks, 1)::float8 AS n,
              greatest(terms::float8 / greatest(chunks, 1), 1e-9) AS avgdl
       FROM {{s}}.stats),
df AS MATERIALIZED (SELECT q.term,
              (SELECT count(*) FROM {{s}}.postings c WHERE c.term = q.term)::float8 AS df
       FROM q),
scored AS (
    SELECT p.rid,
           sum(ln(1 + (st.n - df.df + 0.5) / (df.df + 0.5))
               * p.tf * ({K1} + 1)
               / (p.tf + {K1} * (1 - {B} + {B} * p.dl / st.avgdl))) AS score
    FROM df
    CROSS JOIN st
    JOIN LATERAL (
        SELECT x.rid, x.tf, x.dl, x.label FROM {{s}}.postings x WHERE x.term = df.term
    ) AS p ON true
    WHERE df.df > 0 AND p.label IN (SELECT id FROM allowed)
    GROUP BY p.rid
    ORDER BY score DESC, p.rid
    LIMIT %(k)s
)
SELECT {", ".join("c." + col for col in CHUNK_COLUMNS.split(", "))}, scored.score
FROM scored JOIN {{s}}.chunks c ON c.rid = scored.rid
ORDER BY scored.score DESC, scored.rid
"""
