"""EmbedQueue: pools across files, one write per pool, order kept."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ingest.embed_queue import EmbedQueue


def vectors_for(texts: Sequence[str]) -> list[list[float]]:
    return [[float(len(t))] for t in texts]


def test_files_come_back_in_order_with_their_own_vectors() -> None:
    calls: list[list[str]] = []
    written: list[list[tuple[str, list[list[float]]]]] = []

    def embed(texts: Sequence[str]) -> list[list[float]]:
        calls.append(list(texts))
        return vectors_for(texts)

    q = EmbedQueue[str](embed, written.append, pool=4)
    q.put("a", ["x", "yy", "zzz"])
    q.put("b", ["wwww"])  # 4 texts: the first pool
    q.put("c", ["v" * 5])
    q.put("d", [])
    q.finish()
    assert calls == [["x", "yy", "zzz", "wwww"], ["vvvvv"]]
    # One write per pool, its files in order, each with its own vectors.
    assert written == [
        [("a", [[1.0], [2.0], [3.0]]), ("b", [[4.0]])],
        [("c", [[5.0]]), ("d", [])],
    ]


def test_a_file_is_never_split_across_pools() -> None:
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> list[list[float]]:
        calls.append(len(texts))
        return vectors_for(texts)

    q = EmbedQueue[str](embed, lambda batch: None, pool=3)
    q.put("big", ["t"] * 7)
    q.put("small", ["t"])
    q.finish()
    assert calls == [7, 1]


def test_an_embedder_failure_comes_out_after_earlier_pools_are_written() -> None:
    written: list[str] = []

    def embed(texts: Sequence[str]) -> list[list[float]]:
        if "bad" in texts:
            raise RuntimeError("embedder broke")
        return vectors_for(texts)

    q = EmbedQueue[str](embed, lambda batch: written.extend(i for i, _ in batch), pool=1)
    with pytest.raises(RuntimeError, match="embedder broke"):
        q.put("one", ["a"])
        q.put("two", ["bad"])
        q.put("three", ["c"])
        q.finish()
    assert written == ["one"]


def test_a_write_failure_stops_the_queue_without_hanging() -> None:
    def write(batch: list[tuple[str, list[list[float]]]]) -> None:
        raise OSError("disk full")

    q = EmbedQueue[str](vectors_for, write, pool=1)
    with pytest.raises(OSError, match="disk full"):
        q.put("one", ["a"])
        q.put("two", ["b"])
        q.finish()


def test_a_wrong_number_of_vectors_is_an_error() -> None:
    q = EmbedQueue[str](lambda texts: [[0.0]], lambda batch: None)
    with pytest.raises(ValueError, match="1 vectors for 2 texts"):
        q.put("one", ["a", "b"])
        q.finish()


def test_pool_must_be_positive() -> None:
    with pytest.raises(ValueError):
        EmbedQueue[str](vectors_for, lambda batch: None, pool=0)
