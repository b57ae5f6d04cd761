"""The writes that change documents in both indexes, in the order that keeps
them consistent when a run is killed between any two of them.

Order for new chunks: keyword index (new chunks), vector index (new chunks),
vector index (delete stale), keyword index (delete stale); the caller writes
the catalog records last. Several documents are written together (one call
per step for all of them: each Chroma upsert costs tens of milliseconds
whatever its size, ``benchmarks/ingest_bench.py``), which keeps that order
for each of them. The keyword index therefore always knows every
chunk id that may be in the vector index (by source), and a document whose
record was not written looks changed to the next run, which redoes it and
removes any stale ids it finds under its source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from chatbot.catalog import CatalogKeywordIndex, ClearableVectorIndex, DocumentRecord
from chatbot.domain import Chunk


@dataclass(frozen=True, slots=True)
class Replacement:
    """One document's new chunks and vectors, and the ids it had before."""

    source: str
    chunks: Sequence[Chunk]
    vectors: Sequence[Sequence[float]]
    old_ids: Sequence[str]


class IndexWrites:
    """Both indexes of one ingestion run; see the module docstring."""

    def __init__(self, keywords: CatalogKeywordIndex, vectors: ClearableVectorIndex) -> None:
        self._keywords, self._vectors = keywords, vectors

    def known_ids(self, source: str, recorded: Sequence[str]) -> list[str]:
        """The recorded ids and any others the keyword index holds for ``source``."""
        return list(dict.fromkeys([*recorded, *self._keywords.ids_for_source(source)]))

    def replace_documents(self, documents: Sequence[Replacement]) -> list[int]:
        """Write each document's chunks and remove its other ids; returns how
        many stale ids each one had removed."""
        stale: list[list[str]] = []
        for doc in documents:
            new_ids = {c.id for c in doc.chunks}
            stale.append([i for i in self.known_ids(doc.source, doc.old_ids) if i not in new_ids])
        chunks = [c for doc in documents for c in doc.chunks]
        vectors = [v for doc in documents for v in doc.vectors]
        removed = [i for ids in stale for i in ids]
        self._keywords.upsert(chunks)
        self._vectors.upsert(chunks, vectors)
        self._vectors.delete_ids(removed)
        self._keywords.delete_ids(removed)
        return [len(ids) for ids in stale]

    def delete_source(self, source: str, recorded: Sequence[str]) -> int:
        """Remove every chunk of ``source``; returns how many ids that was."""
        ids = self.known_ids(source, recorded)
        self._vectors.delete_ids(ids)
        self._keywords.delete_ids(ids)
        return len(ids)

    def regroup(self, record: DocumentRecord, groups: tuple[str, ...]) -> int:
        """Give an unchanged document new access groups in place; returns how
        many chunks were relabelled."""
        ids = self.known_ids(record.source, record.chunk_ids)
        # Until both indexes are relabelled the record says the file is
        # unfinished (no hash matches ""), so a run killed in between
        # re-indexes it next time, even if the access file was changed back
        # meanwhile (the old groups in the record would then look right).
        self._keywords.record_document(replace(record, file_hash=""))
        self._keywords.relabel(ids, groups)
        self._vectors.relabel(ids, groups)
        self._keywords.record_document(replace(record, groups=groups))
        return len(ids)
