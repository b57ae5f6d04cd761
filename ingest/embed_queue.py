"""Embed several files' chunks in one call and write them to the indexes in
one call per index.

One file at a time left the embedder short, padded last batches and, worse,
cost one round of index writes per file: each Chroma upsert costs tens of
milliseconds whatever its size, twice per file (main and group collection),
so a corpus of small files spent a fifth of its time in write overheads.
``EmbedQueue`` collects the texts of several files into one pool (about
``pool`` texts, never splitting a file), embeds the pool in one call and
gives the pool's files back, with their vectors and in the order they were
put, to one ``write`` call.

Embedding and writing are not overlapped on a second thread: measured on two
cores (``benchmarks/ingest_bench.py``), a background embedding thread beside
the writes ran 0.76-0.80x the embedding-only limit against 0.84-0.86x for
the same pools in sequence, because the writes took cores the encoder's
threads were waiting on.

A failure of the embedder or of a write comes out of the ``put`` or
``finish`` that triggered it, after every earlier pool was written; files of
a pool not written are simply not catalogued, and the next run redoes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")

POOL_TEXTS = 512
"""Texts per embedding pool. Measured with ``benchmarks/ingest_bench.py``:
enough for the write overheads to be small, small enough that the first
files are written within seconds."""


class EmbedQueue(Generic[Item]):
    """See the module docstring. Call ``finish`` at the end of a successful
    run to embed and write what is left."""

    def __init__(
        self,
        embed: Callable[[Sequence[str]], list[list[float]]],
        write: Callable[[list[tuple[Item, list[list[float]]]]], None],
        pool: int | None = None,
    ) -> None:
        pool = POOL_TEXTS if pool is None else pool
        if pool < 1:
            raise ValueError(f"pool must be at least 1, not {pool}")
        self._embed, self._write, self._pool = embed, write, pool
        self._items: list[tuple[Item, int]] = []
        self._texts: list[str] = []

    def put(self, item: Item, texts: Sequence[str]) -> None:
        """Queue one file's texts; embeds and writes a pool once about
        ``pool`` texts are in."""
        self._items.append((item, len(texts)))
        self._texts.extend(texts)
        if len(self._texts) >= self._pool:
            self._flush()

    def finish(self) -> None:
        """Embed and write every file still queued."""
        if self._items:
            self._flush()

    def _flush(self) -> None:
        texts, self._texts = self._texts, []
        items, self._items = self._items, []
        vectors = self._embed(texts) if texts else []
        if len(vectors) != len(texts):
            raise ValueError(f"the embedder returned {len(vectors)} vectors for {len(texts)} texts")
        start, batch = 0, []
        for item, count in items:
            batch.append((item, vectors[start : start + count]))
            start += count
        self._write(batch)
