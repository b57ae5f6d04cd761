"""The ingestion catalog: what has been indexed, from which file version.

Ingestion keeps one record per source file (its sha256, title, pages and the
chunk ids it produced) plus a few settings the index was built with (the
embedder name, the chunking parameters). ``sync`` compares the corpus folder
with this catalog to decide what to add, replace or remove; ``status`` feeds
"what is in the index" displays.

``ChunkInventory`` and ``VectorInventory`` are the cheap read-only views
``chatbot-ingest --check`` (``ingest.check``) compares with the catalog: ids,
sources and access labels, never text or vectors.

The catalog lives next to the keyword index (same SQLite file in production,
see ``chatbot.adapters.sqlite_keyword``) so the two cannot drift apart on
disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from chatbot.access import Audience
from chatbot.domain import EVERYONE, Chunk, DocumentContext
from chatbot.protocols import KeywordIndex, VectorIndex


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """One ingested source file, as of its last successful ingestion."""

    source: str  # path relative to the corpus root, POSIX separators
    file_hash: str  # sha256 of the file's bytes
    title: str
    pages: int  # PDF pages; 0 for formats without pages
    chunk_ids: tuple[str, ...]
    language: str  # most common chunk language
    ingested_at: datetime  # timezone-aware, UTC
    # The document's identity as its chunks carry it (label, period, version)
    # and where the period was found ("rule", "folder", "text", ""), so an
    # owner can check what was detected (``chatbot-ingest --list``).
    context: DocumentContext = field(default_factory=DocumentContext)
    period_from: str = ""
    # Access groups every chunk of the document carries (``chatbot.access``).
    groups: tuple[str, ...] = (EVERYONE,)

    @property
    def chunks(self) -> int:
        return len(self.chunk_ids)


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """Totals over the whole index, for status pages and health checks."""

    documents: int
    pages: int
    chunks: int
    last_ingested_at: datetime | None  # None when nothing was ever ingested
    embedder: str | None  # name of the embedder the vectors were built with


class Catalog(Protocol):
    """Bookkeeping that makes ingestion incremental and crash-safe."""

    def catalog(self) -> dict[str, DocumentRecord]:
        """Every recorded document, keyed by source."""
        ...

    def record_document(self, record: DocumentRecord) -> None:
        """Insert or replace the record for ``record.source``."""
        ...

    def forget_document(self, source: str) -> None:
        """Drop the record for ``source``; unknown sources are ignored."""
        ...

    def ids_for_source(self, source: str) -> list[str]:
        """Ids of every stored chunk whose source is ``source`` (recorded or not)."""
        ...

    def sources(self) -> set[str]:
        """Every source that has at least one stored chunk."""
        ...

    def get_meta(self, key: str) -> str | None:
        """A stored setting, or None when never set."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting, replacing any previous value."""
        ...

    def clear(self) -> None:
        """Remove every chunk, record and setting."""
        ...

    def status(self) -> IndexStatus:
        """Totals over the catalog and the stored chunks."""
        ...

    def periods(self, audience: Audience) -> frozenset[str]:
        """Every period of a document ``audience`` may see (``PeriodIndex``)."""
        ...


class CatalogKeywordIndex(KeywordIndex, Catalog, Protocol):
    """A keyword index that also keeps the ingestion catalog (what sync needs)."""

    def relabel(self, ids: Sequence[str], groups: Sequence[str]) -> None:
        """Give the stored chunks ``ids`` the access ``groups``; nothing else
        changes; unknown ids are ignored."""
        ...

    def ingestion_lock(self, wait_s: float) -> AbstractContextManager[None]:
        """Held for one whole ingestion run, so that runs into the same index
        (from any process that shares it) take turns. Waits at most
        ``wait_s`` for another run, then raises ``BoundaryError``; a holder
        that dies releases it."""
        ...


class ClearableVectorIndex(VectorIndex, Protocol):
    """A vector index that can be emptied, for ``--rebuild``, and relabelled."""

    def clear(self) -> None:
        """Remove every stored vector (the collection stays usable)."""
        ...

    def relabel(self, ids: Sequence[str], groups: Sequence[str]) -> None:
        """Give the stored chunks ``ids`` the access ``groups``; vectors, text
        and other metadata stay as they are; unknown ids are ignored."""
        ...


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """One chunk as the keyword index holds it, for ``ingest.check`` (no text)."""

    id: str
    source: str
    groups: tuple[str, ...]  # from the chunk's stored access label
    # The chunk has its text, and its search terms exist and carry the same
    # access label (False: it is stored but would not be found, or found for
    # the wrong audience).
    complete: bool


class ChunkInventory(Protocol):
    """The keyword index's side of a consistency check."""

    def stored_chunks(self) -> list[StoredChunk]:
        """Every stored chunk, each once, in no particular order; reads ids
        and labels only, so it stays cheap at 100k chunks."""
        ...


class VectorInventory(Protocol):
    """The vector index's side of a consistency check."""

    def stored_labels(self) -> dict[str, tuple[str, ...]]:
        """Every stored chunk id with the groups of its access label. Reads no
        vectors; raises ``BoundaryError`` when the store cannot be read or
        searched."""
        ...

    def group_labels(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """For each group, the chunk ids its own store holds (``chatbot.adapters.
        chroma_index``: one collection per group), each with the groups of the
        label stored there. An index that keeps no per-group stores answers
        what they would hold: each chunk under each of its groups."""
        ...

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks among ``ids``, in the order asked; unknown ids skipped."""
        ...


class CheckableCatalog(Catalog, ChunkInventory, Protocol):
    """The catalog and the keyword index it sits with, as ``ingest.check`` reads them."""


def dominant_language(languages: Sequence[str]) -> str:
    """The most common language tag, 'und' when there is none."""
    counts: dict[str, int] = {}
    for lang in languages:
        counts[lang] = counts.get(lang, 0) + 1
    if not counts:
        return "und"
    return max(counts.items(), key=lambda item: item[1])[0]


def visible_status(catalog: Catalog, audience: Audience) -> IndexStatus:
    """Index totals over the documents ``audience`` may see."""
    records = [r for r in catalog.catalog().values() if audience.allows(r.groups)]
    return IndexStatus(
        documents=len(records),
        pages=sum(r.pages for r in records),
        chunks=sum(r.chunks for r in records),
        last_ingested_at=max((r.ingested_at for r in records), default=None),
        embedder=catalog.get_meta("embedder"),  # what IndexStatus.embedder reads
    )
