"""One contract suite, run against the in-memory fakes and the real adapters.

If the fakes pass and the adapters pass, unit tests written against the fakes
say something about production.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatbot.access import PUBLIC, Audience
from chatbot.catalog import CatalogKeywordIndex, ClearableVectorIndex, DocumentRecord
from chatbot.domain import Chunk, DocumentContext
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex
from tests.servers import chroma_server as start_chroma_server


def make_chunk(chunk_id: str, text: str, source: str = "a.pdf", page: int | None = 1) -> Chunk:
    return Chunk(
        id=chunk_id,
        text=text,
        source=source,
        title="Title of " + source,
        page=page,
        section="1. Scope",
        language="zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en",
        content_hash="c-" + chunk_id,
        file_hash="f-" + source,
        position=int(chunk_id.split("-")[-1]) if chunk_id[-1].isdigit() else 0,
    )


CORPUS = [
    make_chunk("c-0", "The deposit protection scheme covers up to HKD 800,000 per depositor."),
    make_chunk("c-1", "Credit card annual fees are waived in the first year.", "cards.md", None),
    replace(
        make_chunk("c-2", "Mortgage stress tests assume rates two points higher.", "loans.pdf", 3),
        context=DocumentContext(
            label="Loans · 2024 · version 2",
            period="2024",
            version="2",
            effective="2024-01-01",
            edition="Loans",
        ),
    ),
    make_chunk("c-3", "存款保障計劃保障每名存款人最高八十萬港元。", "zh.md", None),
    make_chunk("c-4", "Deposit deposit deposit: the word deposit appears often here.", "a.pdf", 2),
]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Chroma server (the ``chroma run`` CLI) on a free local port."""
    with start_chroma_server(tmp_path_factory.mktemp("chroma-server")) as address:
        yield address


@pytest.fixture(
    params=[
        "fake",
        pytest.param("chroma", marks=pytest.mark.real),
        pytest.param("chroma-http", marks=pytest.mark.real),
    ],
)
def vector_index(request: pytest.FixtureRequest, tmp_path: Path) -> ClearableVectorIndex:
    if request.param == "fake":
        return InMemoryVectorIndex()
    from chatbot.adapters.chroma_index import ChromaVectorIndex

    if request.param == "chroma-http":
        host, port = request.getfixturevalue("chroma_server")
        name = f"contract-{uuid.uuid4().hex[:12]}"
        return ChromaVectorIndex(collection=name, backend="http", host=host, port=port)
    return ChromaVectorIndex(collection="contract", path=tmp_path / "chroma")


@pytest.fixture(
    params=[
        "fake",
        pytest.param("sqlite", marks=pytest.mark.real),
        pytest.param("postgres", marks=[pytest.mark.real, pytest.mark.postgres]),
    ],
)
def keyword_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CatalogKeywordIndex]:
    if request.param == "fake":
        yield InMemoryKeywordIndex()
        return
    if request.param == "postgres":
        from chatbot.adapters.pg_keyword import PostgresKeywordIndex

        url = request.getfixturevalue("postgres_url")
        pg = PostgresKeywordIndex(url, schema=f"contract_{uuid.uuid4().hex[:12]}")
        yield pg
        pg.close()
        return
    from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex

    index = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    yield index
    index.close()


EMBED = HashEmbedder()


def vectors(chunks: list[Chunk]) -> list[list[float]]:
    return EMBED.embed([c.text for c in chunks])


class TestVectorIndexContract:
    def test_query_returns_best_first_at_most_k(self, vector_index: ClearableVectorIndex) -> None:
        vector_index.upsert(CORPUS, vectors(CORPUS))
        hits = vector_index.query(EMBED.embed([CORPUS[2].text])[0], k=3, audience=PUBLIC)
        assert len(hits) == 3
        assert hits[0].chunk.id == "c-2"
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert all(-1.0 - 1e-6 <= s <= 1.0 + 1e-6 for s in scores)

    def test_round_trips_chunk_fields(self, vector_index: ClearableVectorIndex) -> None:
        vector_index.upsert(CORPUS, vectors(CORPUS))
        for original in (CORPUS[1], CORPUS[2], CORPUS[3]):
            hit = vector_index.query(EMBED.embed([original.text])[0], k=1, audience=PUBLIC)[0]
            assert hit.chunk == original

    def test_upsert_replaces_by_id(self, vector_index: ClearableVectorIndex) -> None:
        vector_index.upsert(CORPUS, vectors(CORPUS))
        changed = make_chunk("c-1", "Card fees are now charged from day one.", "cards.md", None)
        vector_index.upsert([changed], vectors([changed]))
        assert vector_index.count() == len(CORPUS)
        hit = vector_index.query(EMBED.embed([changed.text])[0], k=1, audience=PUBLIC)[0]
        assert hit.chunk.text == changed.text

    def test_delete_ignores_unknown_ids(self, vector_index: ClearableVectorIndex) -> None:
        vector_index.upsert(CORPUS, vectors(CORPUS))
        vector_index.delete_ids(["c-0", "c-3", "never-stored"])
        assert vector_index.count() == 3
        ids = {
            h.chunk.id
            for h in vector_index.query(EMBED.embed(["deposit"])[0], k=10, audience=PUBLIC)
        }
        assert ids == {"c-1", "c-2", "c-4"}
        vector_index.delete_ids([])

    def test_empty_index_and_k_larger_than_count(self, vector_index: ClearableVectorIndex) -> None:
        query = EMBED.embed(["anything"])[0]
        assert vector_index.query(query, k=5, audience=PUBLIC) == []
        vector_index.upsert(CORPUS[:2], vectors(CORPUS[:2]))
        assert len(vector_index.query(query, k=50, audience=PUBLIC)) == 2

    def test_clear(self, vector_index: ClearableVectorIndex) -> None:
        vector_index.upsert(CORPUS, vectors(CORPUS))
        vector_index.clear()
        assert vector_index.count() == 0
        vector_index.upsert(CORPUS[:1], vectors(CORPUS[:1]))
        assert vector_index.count() == 1


def restricted_corpus() -> list[Chunk]:
    """Twelve "board" chunks nearest to the query vector, then three for
    everyone, then one with no group: the over-fetch of the unfiltered
    neighbours finds too few allowed ones, so the exact path must run."""
    board = [
        replace(
            make_chunk(f"b-{i}", f"board acquisition secret number {i}", "b.md"), groups=("board",)
        )
        for i in range(12)
    ]
    public = [
        replace(make_chunk(f"p-{i}", f"public acquisition note {i}", "p.md"), groups=("everyone",))
        for i in range(3)
    ]
    orphan = [replace(make_chunk("o-0", "acquisition orphan text", "o.md"), groups=())]
    return board + public + orphan


def near(target: list[float], noise: float, seed: int) -> list[float]:
    jitter = EMBED.embed([f"noise {seed}"])[0]
    mixed = [a + noise * b for a, b in zip(target, jitter, strict=True)]
    norm = math.sqrt(sum(x * x for x in mixed))
    return [x / norm for x in mixed]


class TestAccessContract:
    """Both sides return the best k of what the audience may see, chosen
    before the cut to k; no group means nobody; relabelling moves chunks."""

    def test_dense_side_filters_before_the_cut_to_k(
        self, vector_index: ClearableVectorIndex
    ) -> None:
        chunks = restricted_corpus()
        query = EMBED.embed(["acquisition"])[0]
        # Board chunks closest, public ones further out, the orphan in between.
        noise = [0.05 * (i + 1) for i in range(12)] + [2.0, 2.2, 2.4] + [0.01]
        vector_index.upsert(chunks, [near(query, n, i) for i, n in enumerate(noise)])
        everyone = Audience(frozenset({"everyone"}))
        hits = vector_index.query(query, 2, audience=everyone)
        assert [h.chunk.id for h in hits] == ["p-0", "p-1"]
        assert all(h.chunk.groups == ("everyone",) for h in hits)
        board = vector_index.query(query, 3, audience=Audience(frozenset({"board"})))
        assert [h.chunk.id for h in board] == ["b-0", "b-1", "b-2"]
        both = vector_index.query(query, 20, audience=Audience(frozenset({"board", "everyone"})))
        assert len(both) == 15 and "o-0" not in {h.chunk.id for h in both}
        assert vector_index.query(query, 5, audience=Audience(frozenset())) == []

    def test_dense_relabel_changes_who_sees_a_chunk_not_its_vector(
        self, vector_index: ClearableVectorIndex
    ) -> None:
        chunks = restricted_corpus()
        vector_index.upsert(chunks, vectors(chunks))
        query = EMBED.embed([chunks[0].text])[0]
        before = vector_index.query(query, 1, audience=Audience(frozenset({"board"})))[0]
        vector_index.relabel(["b-0"], ["everyone"])
        after = vector_index.query(query, 1, audience=PUBLIC)[0]
        assert after.chunk.id == "b-0" and after.chunk.groups == ("everyone",)
        assert math.isclose(after.score, before.score, abs_tol=1e-5)
        again = vector_index.query(query, 20, audience=Audience(frozenset({"board"})))
        assert "b-0" not in {h.chunk.id for h in again}

    def test_keyword_side_filters_before_ranking(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert(restricted_corpus())
        hits = keyword_index.search("acquisition secret", 2, audience=PUBLIC)
        assert [h.chunk.source for h in hits] == ["p.md", "p.md"]
        board = keyword_index.search(
            "acquisition secret", 20, audience=Audience(frozenset({"board"}))
        )
        assert {h.chunk.source for h in board} == {"b.md"} and len(board) == 12
        assert keyword_index.search("orphan", 5, audience=PUBLIC) == []
        assert keyword_index.search("acquisition", 5, audience=Audience(frozenset())) == []

    def test_keyword_scores_do_not_depend_on_the_audience(
        self, keyword_index: CatalogKeywordIndex
    ) -> None:
        keyword_index.upsert(restricted_corpus())
        wide = {
            h.chunk.id: h.score
            for h in keyword_index.search(
                "public note", 20, audience=Audience(frozenset({"board", "everyone"}))
            )
        }
        narrow = {
            h.chunk.id: h.score for h in keyword_index.search("public note", 20, audience=PUBLIC)
        }
        assert narrow and all(math.isclose(narrow[i], wide[i]) for i in narrow)

    def test_keyword_relabel(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert(restricted_corpus())
        keyword_index.relabel(["b-3"], ["everyone"])
        hits = keyword_index.search("secret number 3", 20, audience=PUBLIC)
        assert [h.chunk.id for h in hits] == ["b-3"] and hits[0].chunk.groups == ("everyone",)
        keyword_index.relabel(["b-3"], [])
        assert keyword_index.search("secret number 3", 20, audience=PUBLIC) == []


class TestKeywordIndexContract:
    def test_search_ranks_matches_best_first(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert(CORPUS)
        hits = keyword_index.search(
            "How much deposit protection per depositor?", k=5, audience=PUBLIC
        )
        assert hits[0].chunk.id == "c-0"
        assert {h.chunk.id for h in hits} <= {"c-0", "c-4"}
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert all(s >= 0 and math.isfinite(s) for s in scores)

    def test_at_most_k(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert(CORPUS)
        assert len(keyword_index.search("deposit card mortgage", k=2, audience=PUBLIC)) == 2
        assert keyword_index.search("deposit", k=0, audience=PUBLIC) == []

    def test_round_trips_chunk_fields(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert(CORPUS)
        (hit,) = keyword_index.search("mortgage stress", k=1, audience=PUBLIC)
        assert hit.chunk == CORPUS[2]

    def test_chinese_bigrams_match(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert(CORPUS)
        hits = keyword_index.search("存款保障的上限是多少？", k=3, audience=PUBLIC)
        assert [h.chunk.id for h in hits] == ["c-3"]

    def test_no_content_terms_no_hits(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert(CORPUS)
        assert keyword_index.search("", k=5, audience=PUBLIC) == []
        assert keyword_index.search("what is the", k=5, audience=PUBLIC) == []
        assert keyword_index.search("zebra quantum", k=5, audience=PUBLIC) == []

    def test_query_syntax_is_inert(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert(CORPUS)
        for nasty in ['"deposit', "deposit AND NOT card", "NEAR(deposit card)", "text:*", "a-b'c"]:
            hits = keyword_index.search(nasty, k=5, audience=PUBLIC)
            assert all(h.score >= 0 for h in hits)
        assert keyword_index.search('"deposit', k=5, audience=PUBLIC)[0].chunk.source == "a.pdf"

    def test_upsert_replaces_and_delete_removes(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert(CORPUS)
        keyword_index.upsert([make_chunk("c-2", "Loans: stress test removed.", "loans.pdf", 3)])
        assert keyword_index.search("mortgage", k=5, audience=PUBLIC) == []
        assert [h.chunk.id for h in keyword_index.search("loans", k=5, audience=PUBLIC)] == ["c-2"]
        keyword_index.delete_ids(["c-2", "unknown"])
        assert keyword_index.search("loans", k=5, audience=PUBLIC) == []
        assert keyword_index.document_frequencies([])[0] == len(CORPUS) - 1

    def test_document_frequencies(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert(CORPUS)
        total, freqs = keyword_index.document_frequencies(["deposit", "存款", "zebra", "u.s"])
        assert total == len(CORPUS)
        assert freqs == {"deposit": 2, "存款": 1, "zebra": 0, "u.s": 0}

    def test_terms_with_inner_punctuation(self, keyword_index: CatalogKeywordIndex) -> None:
        keyword_index.upsert([make_chunk("u-0", "U.S. dollar deposits and e-banking at O'Neil.")])
        _, freqs = keyword_index.document_frequencies(["u.s", "e-banking", "o'neil", "banking"])
        assert freqs == {"u.s": 1, "e-banking": 1, "o'neil": 1, "banking": 0}
        assert [h.chunk.id for h in keyword_index.search("e-banking", k=3, audience=PUBLIC)] == [
            "u-0"
        ]


class TestCatalogContract:
    def record(self, source: str, ids: tuple[str, ...], minutes: int = 0) -> DocumentRecord:
        return DocumentRecord(
            source=source,
            file_hash="h-" + source,
            title="T " + source,
            pages=2 if source.endswith(".pdf") else 0,
            chunk_ids=ids,
            language="en",
            ingested_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        )

    def test_records_round_trip(self, keyword_index: CatalogKeywordIndex) -> None:
        first = self.record("a.pdf", ("c-0", "c-4"))
        cards = self.record("cards.md", ("c-1",), minutes=5)
        keyword_index.record_document(first)
        keyword_index.record_document(cards)
        assert keyword_index.catalog() == {"a.pdf": first, "cards.md": cards}
        assert keyword_index.catalog()["a.pdf"].chunks == 2
        replaced = self.record("a.pdf", ("c-9",), minutes=9)
        keyword_index.record_document(replaced)
        assert keyword_index.catalog()["a.pdf"] == replaced
        keyword_index.forget_document("a.pdf")
        keyword_index.forget_document("never-there.md")
        assert list(keyword_index.catalog()) == ["cards.md"]

    def test_context_and_periods(self, keyword_index: CatalogKeywordIndex) -> None:
        context = DocumentContext(label="Banking · 2024", period="2024")
        dated = replace(self.record("2024/b.md", ("c-1",)), context=context, period_from="folder")
        keyword_index.record_document(dated)
        keyword_index.record_document(self.record("undated.md", ("c-2",)))
        assert keyword_index.catalog()["2024/b.md"] == dated
        assert keyword_index.periods(PUBLIC) == {"2024"}

    def test_ids_and_sources_come_from_stored_chunks(
        self, keyword_index: CatalogKeywordIndex
    ) -> None:
        keyword_index.upsert(CORPUS)
        assert keyword_index.ids_for_source("a.pdf") == ["c-0", "c-4"]
        assert keyword_index.ids_for_source("nothing.md") == []
        assert keyword_index.sources() == {"a.pdf", "cards.md", "loans.pdf", "zh.md"}

    def test_meta_status_and_clear(self, keyword_index: CatalogKeywordIndex) -> None:
        assert keyword_index.get_meta("embedder") is None
        empty = keyword_index.status()
        assert (empty.documents, empty.chunks, empty.last_ingested_at) == (0, 0, None)
        keyword_index.set_meta("embedder", "m1")
        keyword_index.set_meta("embedder", "m2")
        keyword_index.upsert(CORPUS)
        keyword_index.record_document(self.record("a.pdf", ("c-0", "c-4"), minutes=1))
        keyword_index.record_document(self.record("loans.pdf", ("c-2",), minutes=7))
        status = keyword_index.status()
        assert (status.documents, status.pages, status.chunks) == (2, 4, len(CORPUS))
        assert status.embedder == "m2"
        assert status.last_ingested_at == datetime(2025, 1, 1, 0, 7, tzinfo=UTC)
        keyword_index.clear()
        assert keyword_index.catalog() == {}
        assert keyword_index.get_meta("embedder") is None
        assert keyword_index.search("deposit", k=5, audience=PUBLIC) == []
        assert keyword_index.status().chunks == 0
