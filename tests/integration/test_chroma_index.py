"""Chroma specifics beyond the shared contract: errors become fixable messages."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chatbot.access import PUBLIC
from chatbot.adapters.chroma_index import ChromaVectorIndex
from chatbot.domain import Chunk
from chatbot.errors import ConfigurationError, IndexMissingError

pytestmark = pytest.mark.real


def chunk(i: int) -> Chunk:
    return Chunk(f"id-{i}", f"text {i}", "s.md", "S", None, "", "en", "c", "f", i)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_server_names_the_setting() -> None:
    port = closed_port()
    index = ChromaVectorIndex(collection="boundary", backend="http", host="127.0.0.1", port=port)
    with pytest.raises(ConfigurationError) as info:
        index.count()
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "CHATBOT_INDEX__CHROMA_HOST" in message


def test_missing_index_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="chatbot-ingest"):
        ChromaVectorIndex(collection="boundary", path=tmp_path / "none", create=False).count()
    ChromaVectorIndex(collection="other", path=tmp_path / "db").count()
    with pytest.raises(IndexMissingError, match="CHATBOT_INDEX__COLLECTION"):
        ChromaVectorIndex(collection="boundary", path=tmp_path / "db", create=False).count()


def test_dimension_change_asks_for_rebuild(tmp_path: Path) -> None:
    index = ChromaVectorIndex(collection="boundary", path=tmp_path / "db")
    index.upsert([chunk(0)], [[1.0, 0.0, 0.0]])
    with pytest.raises(ConfigurationError, match="--rebuild"):
        index.upsert([chunk(1)], [[1.0, 0.0]])
    with pytest.raises(ConfigurationError, match="--rebuild"):
        index.query([1.0, 0.0], k=3, audience=PUBLIC)


def test_large_upserts_are_batched(tmp_path: Path) -> None:
    index = ChromaVectorIndex(collection="boundary", path=tmp_path / "db")
    index._session.batch = 7  # force several batches without writing thousands of rows
    chunks = [chunk(i) for i in range(30)]
    index.upsert(chunks, [[1.0, float(i)] for i in range(30)])
    assert index.count() == 30
    assert [c.id for c in index.get_chunks(["id-29", "nope", "id-3"])] == ["id-29", "id-3"]
    index.delete_ids([c.id for c in chunks[:20]])
    assert index.count() == 10


def test_cosine_space_scores(tmp_path: Path) -> None:
    index = ChromaVectorIndex(collection="boundary", path=tmp_path / "db")
    index.upsert([chunk(0), chunk(1)], [[1.0, 0.0], [0.0, 1.0]])
    hits = index.query([1.0, 0.0], k=2, audience=PUBLIC)
    assert [h.chunk.id for h in hits] == ["id-0", "id-1"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-6)
    assert hits[1].score == pytest.approx(0.0, abs=1e-6)
