"""SQLite specifics beyond the shared contract (stdlib only, so not 'real')."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatbot.access import PUBLIC, Audience
from chatbot.adapters.sqlite_fts import (
    bm25_scores,
    decode_averages,
    fts_query,
    fts_tokens,
    rare_terms,
    worthless_terms,
)
from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex
from chatbot.adapters.sqlite_schema import SEARCH_SQL
from chatbot.catalog import DocumentRecord
from chatbot.domain import Chunk, DocumentContext
from chatbot.errors import BoundaryError, ConfigurationError, IndexMissingError
from chatbot.text import content_terms


def chunk(i: int, text: str) -> Chunk:
    return Chunk(f"id-{i}", text, "s.md", "S", None, "", "en", f"c{i}", "f", i)


def test_fts_query_quotes_terms_and_drops_stopwords() -> None:
    assert fts_query('What is the "deposit" limit?') == '"deposit" OR "limit"'
    assert fts_query("存款保障") == '"存款" OR "款保" OR "保障"'
    assert fts_query("the of and") == ""
    assert fts_query("NEAR(a b) OR x* deposit:") == '"near" OR "deposit"'


def test_worthless_terms_are_those_in_over_half_the_chunks_of_a_large_index() -> None:
    freqs = {"bank": 60_000, "deposit": 900, "hkma": 50_000}
    assert worthless_terms(100_000, freqs) == {"bank"}  # a term in exactly half stays
    assert worthless_terms(9_999, freqs) == set()  # small index: never
    assert worthless_terms(100_000, {"bank": 60_000}) == set()  # something must stay


def test_terms_in_most_chunks_are_left_out_without_changing_the_other_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    index.upsert(
        [
            chunk(i, f"bank circular {i}" + (" deposit insurance" * (i % 3 + 1) if i < 3 else ""))
            for i in range(20)
        ]
    )
    before = [(h.chunk.id, h.score) for h in index.search("bank deposit", k=10, audience=PUBLIC)]
    monkeypatch.setattr("chatbot.adapters.sqlite_fts.PRUNE_FROM_CHUNKS", 10)
    after = [(h.chunk.id, h.score) for h in index.search("bank deposit", k=10, audience=PUBLIC)]
    # "bank" is in every chunk: without it only the deposit chunks match, in
    # the same order with the same scores; the bank-only chunks (score ~0) go.
    assert len(before) == 10 and [i for i, _ in after] == [i for i, _ in before[:3]]
    assert {i for i, _ in after} == {"id-0", "id-1", "id-2"}
    for (_, old), (_, new) in zip(before, after, strict=False):
        assert new == pytest.approx(old, rel=1e-4)
    assert all(score < 1e-3 for _, score in before[3:])
    # A question of common terms only is searched as it is.
    assert len(index.search("bank circular", k=5, audience=PUBLIC)) == 5


WORDS = (
    "deposit insurance scheme bank capital liquidity ratio fintech sandbox 存款 保障 銀行 金融"
).split()


def varied_index(tmp_path: Path, count: int = 40) -> SqliteKeywordIndex:
    """Chunks of different lengths and term counts, English and Chinese, one in
    four restricted to the board."""
    index = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    chunks = []
    for i in range(count):
        words = [WORDS[(i * 7 + j * j) % len(WORDS)] for j in range(3 + i % 11)]
        groups = ("board",) if i % 4 == 3 else ("everyone",)
        chunks.append(replace(chunk(i, " ".join(words) + f" item{i}"), groups=groups))
    index.upsert(chunks)
    return index


def test_bm25_in_python_scores_as_fts5_does(tmp_path: Path) -> None:
    index = varied_index(tmp_path)
    db = sqlite3.connect(index.path)
    total_rows, total_tokens = decode_averages(
        db.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()[0]
    )
    assert total_rows == 40
    rows = db.execute("SELECT rowid, terms, acl FROM chunks_fts").fetchall()
    for question in ("deposit insurance for fintech capital", "存款保障 銀行", "ratio item7"):
        kept = content_terms(question)
        _, frequencies = index.document_frequencies(kept)
        mine = bm25_scores(rows, kept, frequencies, total_rows, total_tokens)
        theirs = db.execute(
            "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?",
            (f"terms : ({fts_query(question)})",),
        ).fetchall()
        assert theirs
        for rowid, rank in theirs:
            assert mine[rowid] == pytest.approx(-rank, rel=1e-9, abs=1e-12)
    assert fts_tokens("u.s o'neil covid-19 中國") == ["u.s", "o'neil", "covid-19", "中國"]


def test_long_questions_on_a_large_index_take_two_stages_with_the_same_top_k(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = varied_index(tmp_path)
    question = "deposit insurance scheme capital liquidity ratio fintech sandbox 存款保障"
    board = Audience(frozenset({"everyone", "board"}))
    one_stage = {
        who: [(h.chunk.id, h.score) for h in index.search(question, k=8, audience=who)]
        for who in (PUBLIC, board)
    }
    monkeypatch.setattr("chatbot.adapters.sqlite_fts.PRUNE_FROM_CHUNKS", 10)
    monkeypatch.setattr("chatbot.adapters.keyword_stages.TWO_STAGE_FROM", 10)
    monkeypatch.setattr("chatbot.adapters.keyword_stages.RARE_TERMS", 3)
    _, frequencies = index.document_frequencies(content_terms(question))
    assert rare_terms(40, list(frequencies), frequencies) is not None  # two stages now
    for who, before in one_stage.items():
        after = [(h.chunk.id, h.score) for h in index.search(question, k=8, audience=who)]
        # every chunk is a candidate here (50 > 40), so nothing may differ
        assert [i for i, _ in after] == [i for i, _ in before]
        for (_, old), (_, new) in zip(before, after, strict=True):
            assert new == pytest.approx(old, rel=1e-9)
    public = {h.chunk.id for h in index.search(question, k=40, audience=PUBLIC)}
    assert public and not any(int(i.split("-")[1]) % 4 == 3 for i in public)
    # a term FTS5 would split is not scored in Python: one stage for it
    assert rare_terms(40, ["o'neil", *frequencies], frequencies) is not None
    assert rare_terms(40, ["a_b", *frequencies], frequencies) is None


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
    # The access filter is part of the MATCH, so FTS5 keeps its top-k path.
    assert not any("TEMP B-TREE" in step for step in plan[:2]), plan


def test_wal_mode_and_data_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "kw.sqlite3"
    index = SqliteKeywordIndex(path)
    index.upsert([chunk(1, "Wire transfers cut off at 4 pm.")])
    index.set_meta("embedder", "m")
    index.close()
    reopened = SqliteKeywordIndex(path, create=False)
    assert [h.chunk.id for h in reopened.search("wire transfer cut-off", k=3, audience=PUBLIC)] == [
        "id-1"
    ]
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
            results.append(len(index.search("branch opens", k=5, audience=PUBLIC)))

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


V1_SCHEMA = """
CREATE TABLE chunks (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL,
  source TEXT NOT NULL, title TEXT NOT NULL, page INTEGER, section TEXT NOT NULL,
  language TEXT NOT NULL, content_hash TEXT NOT NULL, file_hash TEXT NOT NULL,
  position INTEGER NOT NULL);
CREATE VIRTUAL TABLE chunks_fts USING fts5(terms);
CREATE TABLE documents (source TEXT PRIMARY KEY, file_hash TEXT NOT NULL, title TEXT NOT NULL,
  pages INTEGER NOT NULL, chunk_count INTEGER NOT NULL, chunk_ids TEXT NOT NULL,
  language TEXT NOT NULL, ingested_at TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO chunks VALUES (1, 'old', 'Old text.', 'a.md', 'A', NULL, '', 'en', 'c', 'f', 0);
INSERT INTO documents VALUES ('a.md', 'f', 'A', 0, 1, '["old"]', 'en', '2025-01-01T00:00:00+00:00');
"""


def test_a_schema_1_index_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "kw.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.close()
    index = SqliteKeywordIndex(path)
    assert index.get_meta("schema_version") == "3"
    [old] = index.get_chunks(["old"])
    assert old.text == "Old text." and old.context == DocumentContext()
    record = index.catalog()["a.md"]
    assert record.context == DocumentContext() and record.period_from == ""
    assert index.periods(PUBLIC) == frozenset()


def test_context_round_trips_and_periods_come_from_the_catalog(tmp_path: Path) -> None:
    index = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    context = DocumentContext(label="Banking Stability · 2024", period="2024")
    dated = replace(chunk(1, "The ratio was 1.96%."), context=context)
    index.upsert([dated])
    assert index.get_chunks([dated.id])[0].context == context
    assert index.search("2024 ratio", 3, audience=PUBLIC)[0].chunk.context == context
    index.record_document(
        DocumentRecord("s.md", "f", "S", 0, (dated.id,), "en", datetime.now(UTC), context, "folder")
    )
    assert index.catalog()["s.md"].context == context
    assert index.periods(PUBLIC) == {"2024"}


def test_the_ingestion_lock_lets_one_run_at_a_time(tmp_path: Path) -> None:
    one = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    two = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    with (
        one.ingestion_lock(0),
        pytest.raises(BoundaryError, match="another ingestion"),
        two.ingestion_lock(0.3),
    ):
        pass
    with two.ingestion_lock(0):
        pass
    # A holder SIGKILLed mid-run: the kernel closes its descriptor, freeing it.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from pathlib import Path\n"
            "from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex\n"
            f"i = SqliteKeywordIndex(Path({str(tmp_path / 'kw.sqlite3')!r}))\n"
            "with i.ingestion_lock(0):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(300)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(BoundaryError), one.ingestion_lock(0):
        pass
    holder.kill()
    holder.wait()
    with one.ingestion_lock(5):
        pass
