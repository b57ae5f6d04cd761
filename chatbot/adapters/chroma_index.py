"""Vector index adapter over Chroma (embedded on disk, or a Chroma server).

Vectors are computed by our own embedder, so the collection is created with no
embedding function and with cosine space; a hit's score is ``1 - distance``,
i.e. cosine similarity. Every chromadb exception is translated into a
``BoundaryError`` whose message says how to fix it
(``chatbot.adapters.chroma_errors``). The client is opened on first use, so
building the adapter does no I/O; ``chatbot.adapters.chroma_session`` holds
it and reopens it when another process changed the index.

Access groups: every chunk is stored in the main collection (its metadata
holds its groups as a label, ``acl``, which the authoritative check reads)
and again in one small collection per group it belongs to
(``<collection>-g-<hash of the group>``, the group's name in the
collection's metadata). A query for an audience that holds every group in
the index asks the main collection, exactly as without access control; any
other audience asks the collections of its groups, in parallel threads, and
merges them by similarity, which is exact: the best ``k`` of a union are
among the best ``k`` of its parts. Measured at 100k chunks
(``benchmarks/access_bench.py``): Chroma's ``where`` filter on the groups took
0.8-2.5 s a query, and over-fetching unfiltered neighbours then filtering
fell back to it on 30-40% of questions, because restricted documents fill
whole neighbourhoods. The cost is storage: a chunk's vector is kept once per
group plus once in the main collection.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, Literal, ParamSpec, TypeVar

from chatbot.access import Audience
from chatbot.adapters.chroma_inventory import read_labels
from chatbot.adapters.chroma_session import ChromaSession
from chatbot.adapters.freshness import REFRESH_S
from chatbot.domain import Chunk, groups_from_label
from chatbot.errors import BoundaryError
from chatbot.protocols import Hit

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

T = TypeVar("T")
P = ParamSpec("P")


def _guarded(
    *, refresh: bool = False
) -> Callable[
    [Callable[Concatenate[ChromaVectorIndex, P], T]],
    Callable[Concatenate[ChromaVectorIndex, P], T],
]:
    """Run a public method through ``ChromaSession.guard`` (with ``refresh``:
    after looking for other processes' writes)."""

    def wrap(
        method: Callable[Concatenate[ChromaVectorIndex, P], T],
    ) -> Callable[Concatenate[ChromaVectorIndex, P], T]:
        @functools.wraps(method)
        def call(self: ChromaVectorIndex, /, *args: P.args, **kwargs: P.kwargs) -> T:
            return self._session.guard(lambda: method(self, *args, **kwargs), refresh=refresh)

        return call

    return wrap


class ChromaVectorIndex:
    """``VectorIndex`` over one Chroma collection.

    ``backend="persistent"`` stores files under ``path``; ``backend="http"``
    talks to a server at ``host:port`` (bearer ``token`` if given). With
    ``create=False`` a missing collection raises ``IndexMissingError`` instead
    of being created empty (for the answering side). ``refresh_s``: how often
    queries look for other processes' writes (``chatbot.adapters.chroma_session``).
    """

    def __init__(
        self,
        *,
        collection: str,
        backend: Literal["persistent", "http"] = "persistent",
        path: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        ssl: bool = False,
        token: str | None = None,
        create: bool = True,
        threads: int = 8,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self._session = ChromaSession(
            collection=collection,
            backend=backend,
            path=path,
            host=host,
            port=port,
            ssl=ssl,
            token=token,
            create=create,
            refresh_s=refresh_s,
        )
        self._call = self._session.errors.call
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="chroma-acl")

    # -- VectorIndex -------------------------------------------------------

    @_guarded()
    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if not chunks:
            return
        col = self._session.collection()
        step = self._session.max_batch()
        for start in range(0, len(chunks), step):
            part = chunks[start : start + step]
            part_vectors = [list(map(float, v)) for v in vectors[start : start + step]]
            self._leave_old_groups(col, part)
            self._write(col, part, part_vectors)
            for group in sorted({g for c in part for g in c.groups}):
                members = [i for i, c in enumerate(part) if group in c.groups]
                self._write(
                    self._session.group(group),
                    [part[i] for i in members],
                    [part_vectors[i] for i in members],
                )

    @_guarded()
    def delete_ids(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        step = self._session.max_batch()
        unique = list(dict.fromkeys(ids))
        # Group collections first, the main one last: a delete killed part-way
        # leaves every chunk that is still in a group collection in the main
        # one too, with the label that says which (``_leave_old_groups`` and
        # ``relabel`` read it).
        groups = self._session.group_collections(refresh=True)
        for col in [*groups.values(), self._session.collection()]:
            for start in range(0, len(unique), step):
                self._call("delete from", col.delete, ids=unique[start : start + step])

    @_guarded(refresh=True)
    def query(self, vector: Sequence[float], k: int, *, audience: Audience) -> list[Hit]:
        if k <= 0 or audience.empty:
            return []
        present = self._session.group_collections()
        if audience.groups >= set(present):
            # Sees every group: the main collection, as without access control
            # (filtered still, for chunks that have no group at all).
            hits = self._nearest(self._session.collection(), vector, k)
            allowed = [h for h in hits if audience.allows(h.chunk.groups)]
            if len(allowed) == len(hits):
                return allowed
        cols = [present[g] for g in sorted(audience.groups) if g in present]
        parts = self._pool.map(lambda col: self._distances(col, vector, k), cols)
        best: dict[str, float] = {}
        for chunk_id, score in (pair for part in parts for pair in part):
            best[chunk_id] = max(score, best.get(chunk_id, score))
        top = sorted(best, key=lambda i: (-best[i], i))[:k]
        # Text and labels come from the main collection, the source of truth:
        # a group collection only says where to look.
        chunks = self.get_chunks(top)
        hits = [Hit(c, best[c.id]) for c in chunks if audience.allows(c.groups)]
        return sorted(hits, key=lambda h: (-h.score, h.chunk.id))

    def _distances(
        self, col: Collection, vector: Sequence[float], n: int
    ) -> list[tuple[str, float]]:
        result = self._call(
            "query",
            col.query,
            query_embeddings=[list(map(float, vector))],
            n_results=n,
            include=["distances"],
        )
        distances = (result.get("distances") or [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], distances, strict=True)]

    def _nearest(self, col: Collection, vector: Sequence[float], n: int) -> list[Hit]:
        result = self._call(
            "query",
            col.query,
            query_embeddings=[list(map(float, vector))],
            n_results=n,
            include=["documents", "metadatas", "distances"],
        )
        ids = result["ids"][0]
        documents = (result.get("documents") or [[]])[0]
        metadatas = (result.get("metadatas") or [[]])[0]
        distances = (result.get("distances") or [[]])[0]
        hits = [
            Hit(
                chunk=Chunk.from_metadata(chunk_id, doc or "", dict(meta or {})),
                score=1.0 - float(dist),
            )
            for chunk_id, doc, meta, dist in zip(ids, documents, metadatas, distances, strict=True)
        ]
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits

    @_guarded()
    def count(self) -> int:
        col = self._session.collection()
        return self._call("count", col.count)

    # -- extras ------------------------------------------------------------

    @_guarded()
    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks among ``ids``, in the order asked; unknown ids skipped."""
        if not ids:
            return []
        col = self._session.collection()
        result = self._call("read from", col.get, ids=list(ids), include=["documents", "metadatas"])
        documents = result.get("documents") or []
        metadatas = result.get("metadatas") or []
        found = {
            chunk_id: Chunk.from_metadata(chunk_id, doc or "", dict(meta or {}))
            for chunk_id, doc, meta in zip(result["ids"], documents, metadatas, strict=True)
        }
        return [found[i] for i in ids if i in found]

    @_guarded()
    def stored_labels(self) -> dict[str, tuple[str, ...]]:
        """Every chunk id in the main collection with the groups of its label
        (``VectorInventory``, for ``chatbot-ingest --check``)."""
        return read_labels(self._session, self._session.collection())

    @_guarded()
    def group_labels(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """For each group collection, its chunk ids with the groups of the
        label stored there (``VectorInventory``)."""
        return {
            group: read_labels(self._session, col)
            for group, col in sorted(self._session.group_collections(refresh=True).items())
        }

    @_guarded()
    def relabel(self, ids: Sequence[str], groups: Sequence[str]) -> None:
        """New access groups for stored chunks: their label changes and their
        vectors move between group collections, read back from the main one
        (nothing is re-embedded); unknown ids are ignored."""
        if not ids:
            return
        new = tuple(sorted(set(groups)))
        col = self._session.collection()
        step = self._session.max_batch()
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), step):
            found = self._call(
                "read from",
                col.get,
                ids=unique[start : start + step],
                include=["embeddings", "documents", "metadatas"],
            )
            known = list(found["ids"])
            if not known:
                continue
            documents = found.get("documents") or ["" for _ in known]
            metadatas = found.get("metadatas") or [{} for _ in known]
            embeddings = found.get("embeddings")
            if embeddings is None:
                raise BoundaryError(f"{self.describe()} returned no vectors to relabel")
            chunks = [
                replace(Chunk.from_metadata(i, d or "", dict(m or {})), groups=new)
                for i, d, m in zip(known, documents, metadatas, strict=True)
            ]
            vectors = [list(map(float, v)) for v in embeddings]
            old = {g for m in metadatas for g in groups_from_label((m or {}).get("acl"))}
            for group in sorted(old - set(new)):
                self._call("delete from", self._session.group(group).delete, ids=known)
            # The main collection gets the new label only: rewriting its
            # vectors would rebuild their graph nodes and could change which
            # neighbours an approximate search finds for everyone else.
            label = ",".join(new)
            self._call("write to", col.update, ids=known, metadatas=[{"acl": label} for _ in known])
            for group in new:
                self._write(self._session.group(group), chunks, vectors)

    @_guarded()
    def clear(self) -> None:
        """Drop and recreate the collection, and drop every group collection
        (used by ``--rebuild``)."""
        self._session.clear()

    def describe(self) -> str:
        """Where the index lives, for messages and logs."""
        return self._session.describe()

    def close(self) -> None:
        """Let go of the client and the files it holds; a later call opens
        a new one."""
        self._session.close()

    # -- internals ---------------------------------------------------------

    def _leave_old_groups(self, col: Collection, chunks: Sequence[Chunk]) -> None:
        """Take chunks that are stored already out of the collections of the
        groups they no longer have, before the main collection gets their new
        label. Upserting a chunk with other groups happens after a crash: a
        new file killed before its catalog record, then given other groups
        (nothing relabels a file the catalog does not know). Without this its
        vectors would stay in the old groups' collections for good. One read
        of the labels per batch; nothing to delete in the usual case."""
        new = {c.id: set(c.groups) for c in chunks}
        stored = self._call("read from", col.get, ids=list(new), include=["metadatas"])
        leaving: dict[str, list[str]] = {}
        for chunk_id, meta in zip(stored["ids"], stored.get("metadatas") or [], strict=True):
            for group in groups_from_label((meta or {}).get("acl")):
                if group not in new[chunk_id]:
                    leaving.setdefault(group, []).append(chunk_id)
        if not leaving:
            return
        present = self._session.group_collections(refresh=True)
        for group, ids in sorted(leaving.items()):
            if group in present:
                self._call("delete from", present[group].delete, ids=ids)

    def _write(
        self, col: Collection, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]
    ) -> None:
        self._call(
            "write to",
            col.upsert,
            ids=[c.id for c in chunks],
            embeddings=[list(v) for v in vectors],
            documents=[c.text for c in chunks],
            metadatas=[c.metadata() for c in chunks],
        )
