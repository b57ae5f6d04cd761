"""Vector index adapter over Chroma (embedded on disk, or a Chroma server).

Vectors are computed by our own embedder, so the collection is created with no
embedding function and with cosine space; a hit's score is ``1 - distance``,
i.e. cosine similarity. Every chromadb exception is translated into a
``BoundaryError`` whose message says how to fix it. The client is opened on
first use, so building the adapter does no I/O.

Access groups: each chunk's metadata holds its groups as a label (``acl``,
what the authoritative check reads) and one ``acl_<group>: true`` flag per
group (what a metadata filter can match). A query for an audience asks for
``overfetch × k`` nearest chunks with no filter and keeps those the audience
may see; when that leaves fewer than ``k`` (the audience sees little of this
neighbourhood) it asks again with a ``where`` filter on the flags, which is
exact but measured about 100× slower at 100k chunks (``benchmarks/
access_bench.py``). Either way the best ``k`` the audience may see come back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
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

_FLAG = "acl_"


def access_metadata(chunk: Chunk) -> dict[str, str | int | bool]:
    """The chunk's metadata with one filterable flag per access group."""
    return {**chunk.metadata(), **{_FLAG + group: True for group in chunk.groups}}


def access_filter(audience: Audience) -> dict[str, Any]:
    """A Chroma ``where`` that matches chunks sharing a group with ``audience``."""
    clauses: list[dict[str, Any]] = [{_FLAG + g: True} for g in sorted(audience.groups)]
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


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
        overfetch: int = 3,
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
        self._overfetch = max(1, overfetch)
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
            self._call(
                "write to",
                col.upsert,
                ids=[c.id for c in part],
                embeddings=part_vectors,
                documents=[c.text for c in part],
                metadatas=[access_metadata(c) for c in part],
            )

    def delete_ids(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        col = self._collection()
        step = self._max_batch()
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), step):
            part = unique[start : start + step]
            self._call("delete from", col.delete, ids=part)

    def query(self, vector: Sequence[float], k: int, *, audience: Audience) -> list[Hit]:
        if k <= 0 or audience.empty:
            return []
        wanted = k * self._overfetch
        nearest = self._nearest(vector, wanted)
        allowed = [h for h in nearest if audience.allows(h.chunk.groups)]
        if len(allowed) >= k or len(nearest) < wanted:
            # Enough, or the collection holds fewer than asked: nothing was missed.
            return allowed[:k]
        log.debug("over-fetch found %d of %d for %s: filtering", len(allowed), k, audience.key())
        filtered = self._nearest(vector, k, where=access_filter(audience))
        return [h for h in filtered if audience.allows(h.chunk.groups)][:k]

    def _nearest(
        self, vector: Sequence[float], n: int, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        col = self._collection()
        extra: dict[str, Any] = {"where": where} if where is not None else {}
        result = self._call(
            "query",
            col.query,
            query_embeddings=[list(map(float, vector))],
            n_results=n,
            include=["documents", "metadatas", "distances"],
            **extra,
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
        return hits[:n]

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
        """New access groups for stored chunks: the label and the flags change
        (old flags are removed), vectors and text stay; unknown ids ignored."""
        if not ids:
            return
        new = tuple(sorted(set(groups)))
        col = self._collection()
        step = self._max_batch()
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), step):
            part = unique[start : start + step]
            found = self._call("read from", col.get, ids=part, include=["metadatas"])
            known = list(found["ids"])
            if not known:
                continue
            metadatas: list[Any] = []
            for meta in found.get("metadatas") or [{} for _ in known]:
                old = groups_from_label((meta or {}).get("acl"))
                change: dict[str, Any] = {"acl": ",".join(new)}
                change.update({_FLAG + g: None for g in old if g not in new})
                change.update({_FLAG + g: True for g in new})
                metadatas.append(change)
            self._call("write to", col.update, ids=known, metadatas=metadatas)

    def clear(self) -> None:
        """Drop and recreate the collection (used by ``--rebuild``)."""
        with self._lock:
            client = self._get_client()
            self._col = None
            try:
                client.delete_collection(self._collection_name)
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
