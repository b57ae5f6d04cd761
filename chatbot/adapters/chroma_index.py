"""Vector index adapter over Chroma (embedded on disk, or a Chroma server).

Vectors are computed by our own embedder, so the collection is created with no
embedding function and with cosine space; a hit's score is ``1 - distance``,
i.e. cosine similarity. Every chromadb exception is translated into a
``BoundaryError`` whose message says how to fix it. The client is opened on
first use, so building the adapter does no I/O.

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

Other processes' writes (``chatbot-ingest`` while the API answers): the
embedded client keeps each collection's graph in memory and never reloads it,
so before a query the adapter asks a ``ChangeWatch`` (at most once per
``refresh_s``) whether anything committed to ``chroma.sqlite3`` since the
client was opened, and if so closes the client and opens a new one, whose
first query loads the graphs from disk (``chatbot.adapters.freshness``
explains why, and what it costs). chromadb shares one client system per
folder in a process, so a process must open one adapter per index (the app
does) for a reopen to read the files anew. A Chroma server holds the only
copy of the graphs, so over HTTP only the lists this adapter caches age: the
group collections are re-listed every ``refresh_s``, and a collection
another process dropped and made anew (``--rebuild``) is looked up again.
Every call holds a use of ``UseGate``, so a reopen never closes a client
under a call in flight (the group-query threads included).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar

import chromadb
from chromadb.api.client import Client as ChromaClient
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError, InvalidArgumentError, NotFoundError

from chatbot.access import Audience
from chatbot.adapters.freshness import REFRESH_S, ChangeWatch, UseGate
from chatbot.domain import Chunk, groups_from_label
from chatbot.errors import BoundaryError, ConfigurationError, IndexMissingError
from chatbot.protocols import Hit

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

# Fallback when the server does not say; Chroma's own default is 5461.
_DEFAULT_MAX_BATCH = 5000

_GROUP_KEY = "acl_group"  # collection metadata: the group a collection holds
_CHROMA_DB = "chroma.sqlite3"  # the embedded client's own database, in its folder
_RELOAD_PAUSE = 9.0  # after a reload taking t, look again no sooner than 9t later
# What changes in chroma.sqlite3 when an index's content does (chromadb 1.5):
# every write appends to the log (embeddings_queue), applying it moves its
# segments' max_seq_id, and making or dropping a collection changes
# collections. Merely opening a client commits too (a row in acquire_write)
# and changes none of these, so processes opening the index make no one reload.
_CHROMA_CONTENT = (
    "SELECT (SELECT max(seq_id) FROM embeddings_queue),"
    " (SELECT group_concat(segment_id || '=' || seq_id) FROM"
    "  (SELECT segment_id, seq_id FROM max_seq_id ORDER BY segment_id)),"
    " (SELECT group_concat(id || '=' || name) FROM (SELECT id, name FROM collections ORDER BY id))"
)
_PROBE = 64  # ids whose labels one round of ``_labels`` reads
_ABSENT = object()


def _guarded(
    *, refresh: bool = False
) -> Callable[
    [Callable[Concatenate[ChromaVectorIndex, P], T]],
    Callable[Concatenate[ChromaVectorIndex, P], T],
]:
    """Run a public method inside a use of the adapter's gate; with
    ``refresh``, first reopen the client if another process changed the
    index (and time the call, which then loads the graphs it needs). A call
    that finds its collection gone (another process rebuilt the index) drops
    what it held and runs once more. A call made inside another (``query``
    reading chunks) is left to the outer one."""

    def wrap(
        method: Callable[Concatenate[ChromaVectorIndex, P], T],
    ) -> Callable[Concatenate[ChromaVectorIndex, P], T]:
        @functools.wraps(method)
        def call(self: ChromaVectorIndex, /, *args: P.args, **kwargs: P.kwargs) -> T:
            if self._gate.held():
                return method(self, *args, **kwargs)
            reopened = refresh and self._refresh()
            started = time.perf_counter()
            try:
                with self._gate.use():
                    result = method(self, *args, **kwargs)
            except IndexMissingError:
                if self._client is None:
                    raise
                self._reopen("a collection it held was gone")
                with self._gate.use():
                    result = method(self, *args, **kwargs)
            if reopened:
                self._reloaded(time.perf_counter() - started)
            return result

        return call

    return wrap


def group_collection_name(collection: str, group: str) -> str:
    """A valid Chroma name for ``group``'s collection, whatever the group's characters."""
    return f"{collection}-g-{hashlib.sha256(group.encode('utf-8')).hexdigest()[:20]}"


class ChromaVectorIndex:
    """``VectorIndex`` over one Chroma collection.

    ``backend="persistent"`` stores files under ``path``; ``backend="http"``
    talks to a server at ``host:port`` (bearer ``token`` if given). With
    ``create=False`` a missing collection raises ``IndexMissingError`` instead
    of being created empty (for the answering side). ``refresh_s``: how often
    queries look for other processes' writes (see the module docstring).
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
        if backend == "persistent" and path is None:
            raise ConfigurationError("the persistent Chroma backend needs a path")
        self._collection_name = collection
        self._backend = backend
        self._path = path
        self._host = host
        self._port = port
        self._ssl = ssl
        self._token = token
        self._create = create
        self._groups: dict[str, Collection] = {}
        self._refresh_s = refresh_s
        self._groups_read_at = -math.inf
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="chroma-acl")
        self._client: ClientAPI | None = None
        self._col: Collection | None = None
        self._batch: int | None = None
        self._lock = threading.RLock()
        self._gate = UseGate()
        self._watch = (
            ChangeWatch(path / _CHROMA_DB, refresh_s, content=_CHROMA_CONTENT)
            if backend == "persistent" and path
            else None
        )
        self._opened = False  # a client was opened once: never create the files again

    # -- VectorIndex -------------------------------------------------------

    @_guarded()
    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if not chunks:
            return
        col = self._collection()
        step = self._max_batch()
        for start in range(0, len(chunks), step):
            part = chunks[start : start + step]
            part_vectors = [list(map(float, v)) for v in vectors[start : start + step]]
            self._leave_old_groups(col, part)
            self._write(col, part, part_vectors)
            for group in sorted({g for c in part for g in c.groups}):
                members = [i for i, c in enumerate(part) if group in c.groups]
                self._write(
                    self._group(group, create=True),
                    [part[i] for i in members],
                    [part_vectors[i] for i in members],
                )

    @_guarded()
    def delete_ids(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        step = self._max_batch()
        unique = list(dict.fromkeys(ids))
        # Group collections first, the main one last: a delete killed part-way
        # leaves every chunk that is still in a group collection in the main
        # one too, with the label that says which (``_leave_old_groups`` and
        # ``relabel`` read it).
        for col in [*self._group_collections(refresh=True).values(), self._collection()]:
            for start in range(0, len(unique), step):
                self._call("delete from", col.delete, ids=unique[start : start + step])

    @_guarded(refresh=True)
    def query(self, vector: Sequence[float], k: int, *, audience: Audience) -> list[Hit]:
        if k <= 0 or audience.empty:
            return []
        present = self._group_collections()
        if audience.groups >= set(present):
            # Sees every group: the main collection, as without access control
            # (filtered still, for chunks that have no group at all).
            hits = self._nearest(self._collection(), vector, k)
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
        col = self._collection()
        return self._call("count", col.count)

    # -- extras ------------------------------------------------------------

    @_guarded()
    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks among ``ids``, in the order asked; unknown ids skipped."""
        if not ids:
            return []
        col = self._collection()
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
        return self._labels(self._collection())

    @_guarded()
    def group_labels(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """For each group collection, its chunk ids with the groups of the
        label stored there (``VectorInventory``)."""
        return {
            group: self._labels(col)
            for group, col in sorted(self._group_collections(refresh=True).items())
        }

    @_guarded()
    def relabel(self, ids: Sequence[str], groups: Sequence[str]) -> None:
        """New access groups for stored chunks: their label changes and their
        vectors move between group collections, read back from the main one
        (nothing is re-embedded); unknown ids are ignored."""
        if not ids:
            return
        new = tuple(sorted(set(groups)))
        col = self._collection()
        step = self._max_batch()
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
                self._call("delete from", self._group(group, create=True).delete, ids=known)
            # The main collection gets the new label only: rewriting its
            # vectors would rebuild their graph nodes and could change which
            # neighbours an approximate search finds for everyone else.
            label = ",".join(new)
            self._call("write to", col.update, ids=known, metadatas=[{"acl": label} for _ in known])
            for group in new:
                self._write(self._group(group, create=True), chunks, vectors)

    @_guarded()
    def clear(self) -> None:
        """Drop and recreate the collection, and drop every group collection
        (used by ``--rebuild``)."""
        with self._lock:
            client = self._get_client()
            names = [c.name for c in self._group_collections(refresh=True).values()]
            self._col = None
            self._groups = {}
            for name in [self._collection_name, *names]:
                try:
                    client.delete_collection(name)
                except NotFoundError:
                    pass  # nothing to drop yet
                except Exception as exc:
                    raise self._translate("delete", exc) from exc
            self._col = self._open_collection(client, create=True)

    def describe(self) -> str:
        """Where the index lives, for messages and logs."""
        if self._backend == "http":
            scheme = "https" if self._ssl else "http"
            return f"Chroma server {scheme}://{self._host}:{self._port}"
        return f"Chroma at {self._path}"

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
        present = self._group_collections(refresh=True)
        for group, ids in sorted(leaving.items()):
            if group in present:
                self._call("delete from", present[group].delete, ids=ids)

    def _ids(self, col: Collection, where: dict[str, Any] | None = None) -> list[str]:
        """Every id in ``col`` (matching ``where``), paged: no metadata, text or
        vector is read (0.3 s for 100k ids)."""
        step = self._max_batch()
        found: list[str] = []
        while True:
            page = self._call(
                "read from", col.get, where=where, limit=step, offset=len(found), include=[]
            )
            found.extend(page["ids"])
            if len(page["ids"]) < step:
                return found

    def _labels(self, col: Collection) -> dict[str, tuple[str, ...]]:
        """The groups of every chunk's label in ``col``, and a proof that its
        vectors can be searched.

        Reading every metadata takes 13 s for 100k chunks (measured,
        ``get(include=["metadatas"])`` in pages), but a corpus has few distinct
        labels: read the labels of a few unlabelled ids, then fetch every id
        carrying each new label with a ``where`` filter and no payload (0.3 s
        per 20k). A round labels at least the ids it read, so this ends even
        when every chunk has its own label.
        """
        unlabelled = dict.fromkeys(self._ids(col))
        labels: dict[str, tuple[str, ...]] = {}
        swept: set[str] = set()
        while unlabelled:
            probe = list(itertools.islice(unlabelled, _PROBE))
            read = self._call("read from", col.get, ids=probe, include=["metadatas"])
            fresh: set[str] = set()
            for chunk_id, meta in zip(read["ids"], read.get("metadatas") or [], strict=True):
                raw = (meta or {}).get("acl")
                labels[chunk_id] = groups_from_label(raw)
                if isinstance(raw, str) and raw not in swept:
                    fresh.add(raw)
            for chunk_id in probe:  # read, or deleted since it was listed
                unlabelled.pop(chunk_id, None)
            for raw in sorted(fresh):
                swept.add(raw)
                for chunk_id in self._ids(col, where={"acl": raw}):
                    if unlabelled.pop(chunk_id, _ABSENT) is not _ABSENT:
                        labels[chunk_id] = groups_from_label(raw)
        if labels:
            self._search_once(col, next(iter(labels)))
        return labels

    def _search_once(self, col: Collection, chunk_id: str) -> None:
        """Search ``col`` with one of its own vectors: proves its vector index
        loads and answers (listing ids reads only the metadata store)."""
        stored = self._call("read from", col.get, ids=[chunk_id], include=["embeddings"])
        vectors = stored.get("embeddings")
        if vectors is None or len(vectors) == 0:
            return  # deleted since it was listed
        found = self._call(
            "search",
            col.query,
            query_embeddings=[list(map(float, vectors[0]))],
            n_results=1,
            include=[],
        )
        if not found["ids"] or not found["ids"][0]:
            raise BoundaryError(
                f"{self.describe()}: collection '{col.name}' holds chunks but a search "
                "finds none (its vector index is damaged): run `chatbot-ingest --rebuild`."
            )

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

    def _group(self, group: str, *, create: bool) -> Collection:
        with self._lock:
            known = self._groups.get(group)
            if known is not None:
                return known
            client = self._get_client()
            try:
                col = client.get_or_create_collection(
                    group_collection_name(self._collection_name, group),
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={_GROUP_KEY: group},
                    embedding_function=None,
                )
            except Exception as exc:
                raise self._translate("open", exc) from exc
            self._groups[group] = col
            return col

    def _group_collections(self, *, refresh: bool = False) -> dict[str, Collection]:
        """Every group that has a collection. On disk the list is read again
        after a reopen (creating a collection commits, so the watch sees it);
        over HTTP every ``refresh_s`` (a group another process created shows
        up without a restart)."""
        with self._lock:
            age = time.monotonic() - self._groups_read_at
            stale = age == math.inf or (self._backend == "http" and age > self._refresh_s)
            if refresh or stale:
                client = self._get_client()
                prefix = f"{self._collection_name}-g-"
                try:
                    listed = [c for c in client.list_collections() if c.name.startswith(prefix)]
                except Exception as exc:
                    raise self._translate("list the collections of", exc) from exc
                found: dict[str, Collection] = {}
                for col in listed:
                    group = (col.metadata or {}).get(_GROUP_KEY)
                    if isinstance(group, str):
                        found[group] = self._groups.get(group) or client.get_collection(
                            col.name, embedding_function=None
                        )
                self._groups = found
                self._groups_read_at = time.monotonic()
            return dict(self._groups)

    def _collection(self) -> Collection:
        with self._lock:
            if self._col is None:
                self._col = self._open_collection(self._get_client(), create=self._create)
            return self._col

    def _open_collection(self, client: ClientAPI, *, create: bool) -> Collection:
        name = self._collection_name
        try:
            if create:
                return client.get_or_create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                )
            return client.get_collection(name, embedding_function=None)
        except NotFoundError as exc:
            raise IndexMissingError(
                f"no collection '{name}' in {self.describe()}: run `chatbot-ingest` "
                "first (or check CHATBOT_INDEX__COLLECTION)"
            ) from exc
        except Exception as exc:
            raise self._translate("open", exc) from exc

    def _refresh(self) -> bool:
        """Reopen the embedded client when something committed to its
        database since it was opened (at most one look per ``refresh_s``);
        True when it did. An index deleted under this process is missing
        to queries until one is made again: a query must not make an empty
        one beside the ingestion that is making the new one (writes may)."""
        if self._watch is None:
            return False
        if self._client is not None:
            if not self._watch.changed():
                return False
            self._reopen("another process changed it")
        if self._opened and not self._watch.path.exists():
            raise IndexMissingError(
                f"the index at {self._path} was removed: run `chatbot-ingest` "
                "(or set CHATBOT_INDEX__PATH)"
            )
        return self._opened

    def _reloaded(self, seconds: float) -> None:
        """After the first call on a reopened client, which loaded the graphs
        from disk in ``seconds``: while another process keeps writing (a long
        ingestion), reloading takes at most a tenth of the time (57 chunks
        load in tens of ms, 20,000 in about a second)."""
        assert self._watch is not None
        self._watch.pause(_RELOAD_PAUSE * seconds)
        log.info("%s: reloaded in %.0f ms", self.describe(), 1e3 * seconds)

    def close(self) -> None:
        """Let go of the client and the files it holds; a later call opens
        a new one."""
        self._release()
        if self._watch is not None:
            self._watch.close()

    def _reopen(self, why: str) -> None:
        started = time.perf_counter()
        self._release()
        took_ms = 1e3 * (time.perf_counter() - started)
        log.info("%s: %s; reopened (%.1f ms)", self.describe(), why, took_ms)

    def _release(self) -> None:
        """Drop the client (HTTP: only the collections) once no call uses
        it; the next call opens a new one, which reads the index from disk."""
        with self._gate.exclusive(), self._lock:
            client = self._client
            self._col = None
            self._groups = {}
            self._groups_read_at = -math.inf
            if self._backend != "persistent" or client is None:
                return
            self._client = None
            try:
                # Stops the system chromadb keeps per path, so the next
                # PersistentClient starts a new one, which reads the files.
                if isinstance(client, ChromaClient):
                    client.close()
            except Exception:
                log.warning("closing the Chroma client failed", exc_info=True)
            if str(self._path) in getattr(SharedSystemClient, "_identifier_to_system", {}):
                # Another client on this path in this process holds that
                # system, and the next client would share its stale graphs.
                # The app opens one ChromaVectorIndex per index.
                log.warning(
                    "another Chroma client on %s in this process keeps the old view open: "
                    "open one ChromaVectorIndex per index",
                    self._path,
                )

    def _get_client(self) -> ClientAPI:
        # Called with self._lock held.
        if self._client is not None:
            return self._client
        settings = ChromaSettings(anonymized_telemetry=False)
        if self._backend == "persistent":
            assert self._path is not None
            if not self._create and not self._path.exists():
                raise IndexMissingError(
                    f"no index at {self._path}: run `chatbot-ingest` first "
                    "(or set CHATBOT_INDEX__PATH)"
                )
            assert self._watch is not None
            self._watch.mark()  # before the client reads anything: no change is missed
        try:
            if self._backend == "http":
                headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
                self._client = chromadb.HttpClient(
                    host=self._host,
                    port=self._port,
                    ssl=self._ssl,
                    headers=headers,
                    settings=settings,
                )
            else:
                assert self._path is not None
                self._path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(self._path), settings=settings)
        except Exception as exc:
            raise self._translate("connect to", exc) from exc
        self._opened = True
        return self._client

    def _max_batch(self) -> int:
        with self._lock:
            if self._batch is None:
                client = self._get_client()
                try:
                    self._batch = max(1, int(client.get_max_batch_size()))
                except Exception:  # older servers lack the endpoint; a default works
                    log.debug("get_max_batch_size failed", exc_info=True)
                    self._batch = _DEFAULT_MAX_BATCH
            return self._batch

    def _call(self, action: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
        try:
            return fn(**kwargs)
        except BoundaryError:
            raise
        except Exception as exc:
            raise self._translate(action, exc) from exc

    def _translate(self, action: str, exc: BaseException) -> BoundaryError:
        where = self.describe()
        said = _sentence(str(exc) or type(exc).__name__)
        if self._backend == "http" and _looks_unreachable(exc):
            return ConfigurationError(
                f"cannot {action} {where}: {said} Is the Chroma server running at "
                f"{self._host}:{self._port}? Set CHATBOT_INDEX__CHROMA_HOST and "
                "CHATBOT_INDEX__CHROMA_PORT (and CHATBOT_INDEX__CHROMA_SSL for https)."
            )
        if _status_code(exc) in (401, 403):
            return ConfigurationError(
                f"{where} refused access: {said} Set CHATBOT_INDEX__CHROMA_TOKEN to a valid token."
            )
        if isinstance(exc, InvalidArgumentError) and "dimension" in said:
            return ConfigurationError(
                f"{where}: {said} The collection was built with another embedding "
                "model: run `chatbot-ingest --rebuild`."
            )
        if isinstance(exc, NotFoundError):
            return IndexMissingError(
                f"{where}: {said} Run `chatbot-ingest` to (re)create the collection."
            )
        if isinstance(exc, ChromaError | OSError):
            return BoundaryError(
                f"cannot {action} {where}: {said} Check the folder is writable and not "
                "used by another Chroma version, or run `chatbot-ingest --rebuild`."
            )
        return BoundaryError(f"cannot {action} {where}: {type(exc).__name__}: {said}")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def _status_code(exc: BaseException) -> int | None:
    if isinstance(exc, ChromaError):
        try:
            return int(exc.code())
        except Exception:
            return None
    response: Any = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return int(code) if isinstance(code, int) else None


def _looks_unreachable(exc: BaseException) -> bool:
    # HttpClient raises a bare ValueError when its first heartbeat fails, and
    # httpx transport errors afterwards; neither has a dedicated chromadb type.
    name = type(exc).__name__
    text = str(exc).lower()
    return (
        isinstance(exc, ConnectionError | TimeoutError)
        or name in {"ConnectError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError"}
        or "could not connect" in text
        or "connection refused" in text
    )
