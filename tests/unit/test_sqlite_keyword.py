"""SQLite specifics beyond the shared contract (stdlib only, so not 'real')."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from chatbot.adapters.sqlite_keyword import SEARCH_SQL, SqliteKeywordIndex, fts_query
from chatbot.domain import Chunk
from chatbot.errors import ConfigurationError, IndexMissingError


def chunk(i: int, text: str) -> Chunk:
    return Chunk(f"id-{i}", text, "s.md", "S", None, "", "en", f"c{i}", "f", i)


def test_fts_query_quotes_terms_and_drops_stopwords() -> None:
    assert fts_query('What is the "deposit" limit?') == '"deposit" OR "limit"'
    assert fts_query("存款保障") == '"存款" OR "款保" OR "保障"'
    assert fts_query("the of and") == ""
    assert fts_query("NEAR(a b) OR x* deposit:") == '"near" OR "deposit"'


def test_search_plan_uses_the_inverted_index(tmp_path: Path) -> None:
    index = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    index.upsert([chunk(i, f"deposit rule number {i}") for i in range(50)])
    db = sqlite3.connect(tmp_path / "kw.sqlite3")
    plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + SEARCH_SQL, ('"x"', 5))]
    # FTS5 gets the MATCH constraint (":M" in its index string); the chunks
    # table is only probed by rowid for the k results, never scanned.
    assert any("chunks_fts VIRTUAL TABLE INDEX" in step and ":M" in step for step in plan)
    assert "SEARCH c USING INTEGER PRIMARY KEY (rowid=?)" in plan
    assert not any(step.startswith("SCAN c") and "chunks_fts" not in step for step in plan)


def test_wal_mode_and_data_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "kw.sqlite3"
    index = SqliteKeywordIndex(path)
    index.upsert([chunk(1, "Wire transfers cut off at 4 pm.")])
    index.set_meta("embedder", "m")
    index.close()
    reopened = SqliteKeywordIndex(path, create=False)
    assert [h.chunk.id for h in reopened.search("wire transfer cut-off", k=3)] == ["id-1"]
    assert reopened.get_meta("embedder") == "m"
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_missing_file_with_create_false(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="chatbot-ingest"):
        SqliteKeywordIndex(tmp_path / "none.sqlite3", create=False)


def test_schema_version_mismatch_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "kw.sqlite3"
    SqliteKeywordIndex(path).set_meta("schema_version", "0")
    with pytest.raises(ConfigurationError, match="schema version 0"):
        SqliteKeywordIndex(path)


def test_usable_from_other_threads(tmp_path: Path) -> None:
    index = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    index.upsert([chunk(i, f"branch {i} opens at nine") for i in range(20)])
    results: list[int] = []

    def worker() -> None:
        for _ in range(20):
            results.append(len(index.search("branch opens", k=5)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [5] * 80


def test_get_chunks_keeps_order_and_skips_unknown(tmp_path: Path) -> None:
    index = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    index.upsert([chunk(i, f"text {i}") for i in range(3)])
    got = index.get_chunks(["id-2", "nope", "id-0"])
    assert [c.id for c in got] == ["id-2", "id-0"]
    assert index.count() == 3
