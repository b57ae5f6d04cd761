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
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError, InvalidArgumentError, NotFoundError

from chatbot.access import Audience
from chatbot.domain import Chunk, groups_from_label
from chatbot.errors import BoundaryError, ConfigurationError, IndexMissingError
from chatbot.protocols import Hit

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

T = TypeVar("T")

# Fallback when the server does not say; Chroma's own default is 5461.
_DEFAULT_MAX_BATCH = 5000

_GROUP_KEY = "acl_group"  # collection metadata: the group a collection holds
_GROUPS_TTL_S = 5.0  # how long the list of group collections is trusted


def group_collection_name(collection: str, group: str) -> str:
    """A valid Chroma name for ``group``'s collection, whatever the group's characters."""
    return f"{collection}-g-{hashlib.sha256(group.encode('utf-8')).hexdigest()[:20]}"


class ChromaVectorIndex:
    """``VectorIndex`` over one Chroma collection.

    ``backend="persistent"`` stores files under ``path``; ``backend="http"``
    talks to a server at ``host:port`` (bearer ``token`` if given). With
    ``create=False`` a missing collection raises ``IndexMissingError`` instead
    of being created empty (for the answering side).
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
        self._groups_read_at = -_GROUPS_TTL_S
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="chroma-acl")
        self._client: ClientAPI | None = None
        self._col: Collection | None = None
        self._batch: int | None = None
        self._lock = threading.RLock()

    # -- VectorIndex -------------------------------------------------------

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
            self._write(col, part, part_vectors)
            for group in sorted({g for c in part for g in c.groups}):
                members = [i for i, c in enumerate(part) if group in c.groups]
                self._write(
                    self._group(group, create=True),
                    [part[i] for i in members],
                    [part_vectors[i] for i in members],
                )

    def delete_ids(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        step = self._max_batch()
        unique = list(dict.fromkeys(ids))
        for col in [self._collection(), *self._group_collections(refresh=True).values()]:
            for start in range(0, len(unique), step):
                self._call("delete from", col.delete, ids=unique[start : start + step])

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

    def count(self) -> int:
        col = self._collection()
        return self._call("count", col.count)

    # -- extras ------------------------------------------------------------

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
        """Every group that has a collection, re-listed every few seconds (a
        group another process created shows up without a restart)."""
        with self._lock:
            stale = time.monotonic() - self._groups_read_at > _GROUPS_TTL_S
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
