"""Hand-written fakes of the ingestion and retrieval protocols.

They implement the same contracts as the real adapters (see
``tests/unit/test_index_contracts.py``, which runs one suite against both) and
keep everything in memory, so unit tests run in milliseconds.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

from chatbot.access import Audience
from chatbot.catalog import DocumentRecord, IndexStatus, StoredChunk
from chatbot.domain import Chunk
from chatbot.errors import BoundaryError
from chatbot.protocols import Hit
from chatbot.text import content_terms, terms


class HashEmbedder:
    """Implements ``Embedder``: a hashed bag of ``chatbot.text.terms``.

    Texts sharing words get close vectors, which is all unit tests need.
    """

    DIMENSION = 256

    def __init__(self, name: str = "hash-256") -> None:
        self._name = name
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        return [self._vector(text) for text in texts]

    def token_length(self, text: str) -> int:
        return len(terms(text))

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.DIMENSION
        for term in terms(text):
            digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self.DIMENSION
            vec[index] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vec))
        if norm == 0.0:
            vec[0], norm = 1.0, 1.0
        return [x / norm for x in vec]


class InMemoryVectorIndex:
    """Implements ``VectorIndex`` (plus ``clear``) with a dict and exact cosine."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[Chunk, list[float]]] = {}

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("chunks and vectors differ in length")
        for chunk, vector in zip(chunks, vectors, strict=True):
            self.items[chunk.id] = (chunk, list(vector))

    def delete_ids(self, ids: Sequence[str]) -> None:
        for chunk_id in ids:
            self.items.pop(chunk_id, None)

    def query(self, vector: Sequence[float], k: int, *, audience: Audience) -> list[Hit]:
        if k <= 0:
            return []
        qnorm = math.sqrt(sum(x * x for x in vector)) or 1.0
        hits = []
        for chunk, stored in self.items.values():
            if not audience.allows(chunk.groups):
                continue
            snorm = math.sqrt(sum(x * x for x in stored)) or 1.0
            cosine = sum(a * b for a, b in zip(vector, stored, strict=True)) / (qnorm * snorm)
            hits.append(Hit(chunk=chunk, score=cosine))
        hits.sort(key=lambda h: (-h.score, h.chunk.id))
        return hits[:k]

    def count(self) -> int:
        return len(self.items)

    def clear(self) -> None:
        self.items.clear()

    def relabel(self, ids: Sequence[str], groups: Sequence[str]) -> None:
        for chunk_id in ids:
            if chunk_id in self.items:
                chunk, vector = self.items[chunk_id]
                self.items[chunk_id] = (replace(chunk, groups=tuple(sorted(set(groups)))), vector)

    # VectorInventory (``chatbot-ingest --check``)
    def stored_labels(self) -> dict[str, tuple[str, ...]]:
        return {chunk_id: chunk.groups for chunk_id, (chunk, _) in self.items.items()}

    def group_labels(self) -> dict[str, dict[str, tuple[str, ...]]]:
        # No per-group stores: what they would hold.
        out: dict[str, dict[str, tuple[str, ...]]] = {}
        for chunk, _ in self.items.values():
            for group in chunk.groups:
                out.setdefault(group, {})[chunk.id] = chunk.groups
        return out

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        return [self.items[i][0] for i in ids if i in self.items]


class InMemoryKeywordIndex:
    """Implements ``KeywordIndex`` and ``Catalog``: BM25 by scanning a dict.

    Scanning is fine in a fake; the real index must use an inverted index.
    """

    K1 = 1.2
    B = 0.75

    def __init__(self) -> None:
        self.chunks: dict[str, Chunk] = {}
        self._terms: dict[str, Counter[str]] = {}
        self.records: dict[str, DocumentRecord] = {}
        self.meta: dict[str, str] = {}
        self._ingesting = threading.Lock()

    # KeywordIndex
    def upsert(self, chunks: Sequence[Chunk]) -> None:
        for chunk in chunks:
            self.chunks[chunk.id] = chunk
            self._terms[chunk.id] = Counter(terms(chunk.indexed_text()))

    def delete_ids(self, ids: Sequence[str]) -> None:
        for chunk_id in ids:
            self.chunks.pop(chunk_id, None)
            self._terms.pop(chunk_id, None)

    def search(self, query: str, k: int, *, audience: Audience) -> list[Hit]:
        wanted = content_terms(query)
        if not wanted or k <= 0 or not self.chunks:
            return []
        # BM25 statistics over the whole index, like the real one; only the
        # candidates are restricted to the audience.
        n = len(self.chunks)
        avg_len = sum(sum(c.values()) for c in self._terms.values()) / n
        hits = []
        for chunk_id, counts in self._terms.items():
            if not audience.allows(self.chunks[chunk_id].groups):
                continue
            length = sum(counts.values())
            score = 0.0
            for term in wanted:
                tf = counts.get(term, 0)
                if not tf:
                    continue
                df = sum(1 for c in self._terms.values() if term in c)
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                norm = tf + self.K1 * (1 - self.B + self.B * length / avg_len)
                score += idf * tf * (self.K1 + 1) / norm
            if score > 0:
                hits.append(Hit(chunk=self.chunks[chunk_id], score=score))
        hits.sort(key=lambda h: (-h.score, h.chunk.id))
        return hits[:k]

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        return len(self.chunks), {
            term: sum(1 for c in self._terms.values() if term in c) for term in terms
        }

    def periods(self, audience: Audience) -> frozenset[str]:
        return frozenset(
            r.context.period
            for r in self.records.values()
            if r.context.period and audience.allows(r.groups)
        )

    def relabel(self, ids: Sequence[str], groups: Sequence[str]) -> None:
        for chunk_id in ids:
            if chunk_id in self.chunks:
                self.chunks[chunk_id] = replace(
                    self.chunks[chunk_id], groups=tuple(sorted(set(groups)))
                )

    @contextmanager
    def ingestion_lock(self, wait_s: float) -> Iterator[None]:
        if not self._ingesting.acquire(timeout=wait_s):
            raise BoundaryError("another ingestion into this fake index is still running")
        try:
            yield
        finally:
            self._ingesting.release()

    # ChunkInventory (``chatbot-ingest --check``)
    def stored_chunks(self) -> list[StoredChunk]:
        return [StoredChunk(c.id, c.source, c.groups, bool(c.text)) for c in self.chunks.values()]

    # Catalog
    def catalog(self) -> dict[str, DocumentRecord]:
        return dict(sorted(self.records.items()))

    def record_document(self, record: DocumentRecord) -> None:
        self.records[record.source] = record

    def forget_document(self, source: str) -> None:
        self.records.pop(source, None)

    def ids_for_source(self, source: str) -> list[str]:
        found = [c for c in self.chunks.values() if c.source == source]
        return [c.id for c in sorted(found, key=lambda c: c.position)]

    def sources(self) -> set[str]:
        return {c.source for c in self.chunks.values()}

    def get_meta(self, key: str) -> str | None:
        return self.meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self.meta[key] = value

    def clear(self) -> None:
        self.chunks.clear()
        self._terms.clear()
        self.records.clear()
        self.meta.clear()

    def status(self) -> IndexStatus:
        last: datetime | None = max((r.ingested_at for r in self.records.values()), default=None)
        return IndexStatus(
            documents=len(self.records),
            pages=sum(r.pages for r in self.records.values()),
            chunks=len(self.chunks),
            last_ingested_at=last,
            embedder=self.meta.get("embedder"),
        )
