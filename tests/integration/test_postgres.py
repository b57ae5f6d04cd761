"""The PostgreSQL backend against a real server: what an operator sees when
the URL, the permissions or the server are wrong, the ingestion lock, the
migration run by two replicas at once, and a full ingestion and ``--check``
through the app's composition. (Its contract with the rest of the code is
``tests/contracts/test_index_contracts.py``, run against SQLite and
PostgreSQL alike.)"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from chatbot.access import PUBLIC, Audience
from chatbot.adapters.pg_connection import describe_url
from chatbot.adapters.pg_keyword import PostgresKeywordIndex
from chatbot.domain import Chunk
from chatbot.errors import BoundaryError, ConfigurationError, IndexMissingError
from chatbot.text import content_terms, terms
from tests.builders import dps_chunk as make_chunk

pytestmark = [pytest.mark.real, pytest.mark.postgres]


def schema() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def test_a_wrong_url_database_or_port_says_what_to_fix(postgres_url: str) -> None:
    with pytest.raises(ConfigurationError, match="not a PostgreSQL URL"):
        PostgresKeywordIndex("postgresql://x@127.0.0.1:5432/db?nonsense_option=1")
    wrong_db = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(BoundaryError, match="cannot connect to PostgreSQL") as caught:
        PostgresKeywordIndex(wrong_db, connect_timeout_s=3)
    assert "no_such_database" in str(caught.value)
    with pytest.raises(BoundaryError, match="cannot connect") as closed:
        PostgresKeywordIndex("postgresql://u:hunter2@127.0.0.1:1/db", connect_timeout_s=2)
    assert "hunter2" not in str(closed.value)
    assert describe_url("postgresql://u:hunter2@h:6543/db") == "postgresql://u@h:6543/db"


def test_the_answering_side_does_not_create_an_index(postgres_url: str) -> None:
    with pytest.raises(IndexMissingError, match="run `chatbot-ingest`"):
        PostgresKeywordIndex(postgres_url, schema=schema(), create=False)


def test_a_user_without_permission_is_told_what_to_grant(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS reader")
        admin.execute("CREATE ROLE reader LOGIN")
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    base, database = postgres_url.rsplit("/", 1)
    reader = base.replace("boundary@", "reader@") + "/" + database
    with pytest.raises(ConfigurationError, match="lacks a permission") as caught:
        PostgresKeywordIndex(reader, schema=schema())
    assert "grant" in str(caught.value).lower()


def test_migration_by_replicas_starting_together_happens_once(postgres_url: str) -> None:
    name = schema()
    made: list[PostgresKeywordIndex] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            made.append(PostgresKeywordIndex(postgres_url, schema=name, pool_size=2))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(made) == 4
    made[0].upsert([make_chunk("x-0", "Liquidity coverage ratio rules.")])
    assert [h.chunk.id for h in made[3].search("liquidity coverage", 5, audience=PUBLIC)] == ["x-0"]
    for index in made:
        index.close()


def test_the_ingestion_lock_makes_a_second_run_wait_and_a_dead_holder_frees_it(
    postgres_url: str,
) -> None:
    name = schema()
    one = PostgresKeywordIndex(postgres_url, schema=name)
    two = PostgresKeywordIndex(postgres_url, schema=name)
    try:
        with one.ingestion_lock(0):
            started = time.monotonic()
            with pytest.raises(BoundaryError, match="another ingestion"), two.ingestion_lock(0.6):
                pass
            assert time.monotonic() - started >= 0.5
        with two.ingestion_lock(0):
            pass
        # A holder killed with SIGKILL: the server ends its session and the lock.
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time\n"
                "from chatbot.adapters.pg_keyword import PostgresKeywordIndex\n"
                f"i = PostgresKeywordIndex({postgres_url!r}, schema={name!r})\n"
                "with i.ingestion_lock(0):\n"
                "    print('held', flush=True)\n"
                "    time.sleep(300)\n",
            ],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(BoundaryError), one.ingestion_lock(0):
            pass
        holder.kill()
        holder.wait()
        with one.ingestion_lock(10):
            pass
    finally:
        one.close()
        two.close()


def test_postings_are_vacuumed_once_a_fifth_of_the_index_is_new(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    index = PostgresKeywordIndex(postgres_url, schema=schema())
    try:
        with caplog.at_level(logging.INFO, logger="chatbot.adapters.pg_keyword"):
            index.upsert([make_chunk(f"v-{i}", f"Deposit rule {i}.") for i in range(1999)])
            assert "vacuumed" not in caplog.text  # fewer than 2,000 new chunks
            index.upsert([make_chunk("v-last", "Deposit rule last.")])
        assert "vacuumed the keyword index (2000 chunks)" in caplog.text
    finally:
        index.close()


def test_a_server_that_went_away_gives_a_clear_error_and_nothing_half_written() -> None:
    from eval.servers import PostgresMissing, postgres_server

    try:
        server = postgres_server()
        url = server.__enter__()
    except PostgresMissing as exc:
        pytest.skip(str(exc))
    index = PostgresKeywordIndex(url, schema="gone", connect_timeout_s=2)
    index.upsert([make_chunk("g-0", "Operational resilience testing.")])
    server.__exit__(None, None, None)  # the server is stopped and its folder removed
    try:
        with pytest.raises(BoundaryError, match="not answering"):
            index.search("operational resilience", 3, audience=PUBLIC)
        with pytest.raises(BoundaryError, match="nothing committed is lost"):
            index.upsert([make_chunk("g-1", "More text.")])
    finally:
        index.close()


def _counted_frequencies(postgres_url: str, name: str) -> dict[str, int]:
    with psycopg.connect(postgres_url) as conn:
        kept = conn.execute(f'SELECT term, chunks FROM "{name}".frequencies WHERE chunks > 0')
        stored = dict(kept.fetchall())
        counted = conn.execute(f'SELECT term, count(*) FROM "{name}".postings GROUP BY term')
        assert stored == dict(counted.fetchall())
        orphans = conn.execute(
            f'SELECT count(*) FROM "{name}".postings p '
            f'WHERE NOT EXISTS (SELECT 1 FROM "{name}".chunks c WHERE c.rid = p.rid)'
        ).fetchone()
        assert orphans == (0,)  # a chunk's postings go with it (no foreign key since v2)
    return stored


VARIED = [
    "deposit insurance scheme capital liquidity ratio fintech sandbox",
    "capital adequacy ratio of authorized institutions",
    "liquidity coverage ratio and net stable funding",
    "fintech sandbox pilot for banks",
    "deposit protection scheme members",
    "存款保障計劃 資本 流動性",
    "climate risk stress test of banks",
    "insurance of deposits up to a limit",
]


def varied_chunks() -> list[Chunk]:
    chunks = []
    for i in range(40):
        text = f"{VARIED[i % len(VARIED)]} {VARIED[(i * 3 + 1) % len(VARIED)]} item{i}"
        groups = ("board",) if i % 4 == 3 else ("everyone",)
        chunks.append(replace(make_chunk(f"w-{i}", text), groups=groups))
    return chunks


@pytest.fixture
def fresh(postgres_url: str) -> Iterator[tuple[str, PostgresKeywordIndex]]:
    """A keyword index in a new schema, and the schema's name."""
    name = schema()
    index = PostgresKeywordIndex(postgres_url, schema=name)
    yield name, index
    index.close()


def test_document_frequencies_are_kept_by_every_write(
    postgres_url: str, fresh: tuple[str, PostgresKeywordIndex]
) -> None:
    name, index = fresh
    index.upsert(varied_chunks())
    stored = _counted_frequencies(postgres_url, name)
    assert stored["deposit"] > 0 and stored["item7"] == 1
    # a replaced chunk counts once, with its new terms; a deleted one not at all
    index.upsert([make_chunk("w-7", "Entirely new wording about mortgages.")])
    index.delete_ids(["w-8", "w-9", "no-such-id"])
    stored = _counted_frequencies(postgres_url, name)
    assert "item7" not in stored and stored["mortgages"] == 1 and "item8" not in stored
    total, frequencies = index.document_frequencies(["deposit", "mortgages", "zebra"])
    assert total == 38 and frequencies["mortgages"] == 1 and frequencies["zebra"] == 0
    index.clear()
    assert _counted_frequencies(postgres_url, name) == {}


def test_long_questions_on_a_large_index_take_two_stages_scored_on_every_term(
    fresh: tuple[str, PostgresKeywordIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, index = fresh
    chunks = varied_chunks()
    index.upsert(chunks)
    question = "deposit insurance scheme capital liquidity ratio fintech sandbox 存款保障"
    board = Audience(frozenset({"everyone", "board"}))
    one_stage = {
        who: [(h.chunk.id, h.score) for h in index.search(question, k=40, audience=who)]
        for who in (PUBLIC, board)
    }
    _, frequencies = index.document_frequencies(list(dict.fromkeys(content_terms(question))))
    found = sorted((t for t, n in frequencies.items() if n), key=lambda t: (frequencies[t], t))
    rare = set(found[:3])
    holds_rare = {c.id for c in chunks if rare & set(terms(c.indexed_text()))}
    monkeypatch.setattr("chatbot.adapters.keyword_stages.TWO_STAGE_FROM", 10)
    monkeypatch.setattr("chatbot.adapters.keyword_stages.RARE_TERMS", 3)
    for who, before in one_stage.items():
        after = [(h.chunk.id, h.score) for h in index.search(question, k=8, audience=who)]
        # the one-stage ranking of the chunks the rare terms find, at the
        # one-stage scores (every term scored), within the audience
        # (chunks of the same text tie; sums in another order may differ
        # in the last bit, so ties are compared as sets)
        expected = [(i, score) for i, score in before if i in holds_rare]
        assert [s for _, s in after] == pytest.approx([s for _, s in expected[:8]], rel=1e-9)
        for hit_id, score in after:
            assert dict(before)[hit_id] == pytest.approx(score, rel=1e-9)
            assert hit_id in holds_rare
        cut = after[-1][1] * (1 + 1e-9)
        assert {i for i, s in after if s > cut} == {i for i, s in expected if s > cut}
        assert len(after) == 8 and len(holds_rare) < len(before)
    public = {h.chunk.id for h in index.search(question, k=40, audience=PUBLIC)}
    assert public and not any(int(i.split("-")[1]) % 4 == 3 for i in public)


def test_an_index_of_schema_version_1_is_migrated_with_its_frequencies(postgres_url: str) -> None:
    name = schema()
    index = PostgresKeywordIndex(postgres_url, schema=name)
    index.upsert(varied_chunks())
    before = [h.chunk.id for h in index.search("deposit insurance", 10, audience=PUBLIC)]
    index.close()
    with psycopg.connect(postgres_url) as conn:  # as version 1 left it
        conn.execute(f'DROP TABLE "{name}".frequencies')
        conn.execute(f"UPDATE \"{name}\".meta SET value = '1' WHERE key = 'schema_version'")
    with pytest.raises(ConfigurationError, match="run `chatbot-ingest` once"):
        PostgresKeywordIndex(postgres_url, schema=name, create=False)
    index = PostgresKeywordIndex(postgres_url, schema=name)  # ingestion migrates
    try:
        assert _counted_frequencies(postgres_url, name)["deposit"] > 0
        after = index.search("deposit insurance", 10, audience=PUBLIC)
        assert [h.chunk.id for h in after] == before
    finally:
        index.close()
