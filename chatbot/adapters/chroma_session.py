"""The Chroma client a ``ChromaVectorIndex`` works through: opened on first
use (embedded on disk, or a Chroma server over HTTP), with the collections
it has opened (the main one and one per access group) and the server's
batch size, all dropped together when the client is reopened.

Other processes' writes (``chatbot-ingest`` while the API answers): the
embedded client keeps each collection's graph in memory and never reloads it,
so before a query the session asks a ``ChangeWatch`` (at most once per
``refresh_s``) whether anything committed to ``chroma.sqlite3`` since the
client was opened, and if so closes the client and opens a new one, whose
first query loads the graphs from disk (``chatbot.adapters.freshness``
explains why, and what it costs). chromadb shares one client system per
folder in a process, so a process must open one adapter per index (the app
does) for a reopen to read the files anew. A Chroma server holds the only
copy of the graphs, so over HTTP only the lists this session caches age: the
group collections are re-listed every ``refresh_s``, and a collection
another process dropped and made anew (``--rebuild``) is looked up again.
Every call holds a use of ``UseGate`` (``guard``), so a reopen never closes
a client under a call in flight (the group-query threads included).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

import chromadb
from chromadb.api.client import Client as ChromaClient
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from chatbot.adapters.chroma_errors import ChromaErrors
from chatbot.adapters.freshness import REFRESH_S, ChangeWatch, UseGate
from chatbot.errors import ConfigurationError, IndexMissingError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

T = TypeVar("T")

# Fallback when the server does not say; Chroma's own default is 5461.
_DEFAULT_MAX_BATCH = 5000

_GROUP_KEY = "acl_group"  # collection metadata: the group a collection holds
_CHROMA_DB = "chroma.sqlite3"  # the embedded client's own database, in its folder
RELOAD_PAUSE = 9.0  # after a reload taking t, look again no sooner than 9t later
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


def group_collection_name(collection: str, group: str) -> str:
    """A valid Chroma name for ``group``'s collection, whatever the group's characters."""
    return f"{collection}-g-{hashlib.sha256(group.encode('utf-8')).hexdigest()[:20]}"


class ChromaSession:
    """The client and collections of one index (``ChromaVectorIndex``
    documents the arguments). Safe to share between threads."""

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
        refresh_s: float = REFRESH_S,
    ) -> None:
        if backend == "persistent" and path is None:
            raise ConfigurationError("the persistent Chroma backend needs a path")
        self.name = collection
        self._backend = backend
        self._path = path
        self._host = host
        self._port = port
        self._ssl = ssl
        self._token = token
        self._create = create
        self._refresh_s = refresh_s
        self.errors = ChromaErrors(self.describe(), f"{host}:{port}" if backend == "http" else None)
        self._groups: dict[str, Collection] = {}
        self._groups_read_at = -math.inf
        self._client: ClientAPI | None = None
        self._col: Collection | None = None
        self.batch: int | None = None  # the server's, asked once (tests set it smaller)
        self._lock = threading.RLock()
        self._gate = UseGate()
        self._watch = (
            ChangeWatch(path / _CHROMA_DB, refresh_s, content=_CHROMA_CONTENT)
            if backend == "persistent" and path
            else None
        )
        self._opened = False  # a client was opened once: never create the files again

    def describe(self) -> str:
        """Where the index lives, for messages and logs."""
        if self._backend == "http":
            scheme = "https" if self._ssl else "http"
            return f"Chroma server {scheme}://{self._host}:{self._port}"
        return f"Chroma at {self._path}"

    def guard(self, work: Callable[[], T], *, refresh: bool = False) -> T:
        """Run ``work`` inside a use of the gate; with ``refresh``, first
        reopen the client if another process changed the index (and time
        the call, which then loads the graphs it needs). A call that finds
        its collection gone (another process rebuilt the index) drops what
        it held and runs once more. A call made inside another (``query``
        reading chunks) is left to the outer one."""
        if self._gate.held():
            return work()
        reopened = refresh and self._refresh()
        started = time.perf_counter()
        try:
            with self._gate.use():
                result = work()
        except IndexMissingError:
            if self._client is None:
                raise
            self.reopen("a collection it held was gone")
            with self._gate.use():
                result = work()
        if reopened:
            self._reloaded(time.perf_counter() - started)
        return result

    # -- collections -------------------------------------------------------

    def collection(self) -> Collection:
        """The main collection (every chunk, with its label)."""
        with self._lock:
            if self._col is None:
                self._col = self._open_collection(self._get_client(), create=self._create)
            return self._col

    def group(self, group: str) -> Collection:
        """``group``'s collection, made if it does not exist yet."""
        with self._lock:
            known = self._groups.get(group)
            if known is not None:
                return known
            client = self._get_client()
            try:
                col = client.get_or_create_collection(
                    group_collection_name(self.name, group),
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={_GROUP_KEY: group},
                    embedding_function=None,
                )
            except Exception as exc:
                raise self.errors.translate("open", exc) from exc
            self._groups[group] = col
            return col

    def group_collections(self, *, refresh: bool = False) -> dict[str, Collection]:
        """Every group that has a collection. On disk the list is read again
        after a reopen (creating a collection commits, so the watch sees it);
        over HTTP every ``refresh_s`` (a group another process created shows
        up without a restart)."""
        with self._lock:
            age = time.monotonic() - self._groups_read_at
            stale = age == math.inf or (self._backend == "http" and age > self._refresh_s)
            if refresh or stale:
                client = self._get_client()
                prefix = f"{self.name}-g-"
                try:
                    listed = [c for c in client.list_collections() if c.name.startswith(prefix)]
                except Exception as exc:
                    raise self.errors.translate("list the collections of", exc) from exc
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

    def max_batch(self) -> int:
        """The most records one call may carry."""
        with self._lock:
            if self.batch is None:
                client = self._get_client()
                try:
                    self.batch = max(1, int(client.get_max_batch_size()))
                except Exception:  # older servers lack the endpoint; a default works
                    log.debug("get_max_batch_size failed", exc_info=True)
                    self.batch = _DEFAULT_MAX_BATCH
            return self.batch

    def clear(self) -> None:
        """Drop the main collection and every group collection, and make the
        main one anew, empty."""
        with self._lock:
            client = self._get_client()
            names = [c.name for c in self.group_collections(refresh=True).values()]
            self._col = None
            self._groups = {}
            for name in [self.name, *names]:
                try:
                    client.delete_collection(name)
                except NotFoundError:
                    pass  # nothing to drop yet
                except Exception as exc:
                    raise self.errors.translate("delete", exc) from exc
            self._col = self._open_collection(client, create=True)

    def _open_collection(self, client: ClientAPI, *, create: bool) -> Collection:
        name = self.name
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
            raise self.errors.translate("open", exc) from exc

    # -- the client --------------------------------------------------------

    def close(self) -> None:
        """Let go of the client and the files it holds; a later call opens
        a new one."""
        self._release()
        if self._watch is not None:
            self._watch.close()

    def reopen(self, why: str) -> None:
        """Drop the client (and what it opened); the next call opens a new one."""
        started = time.perf_counter()
        self._release()
        took_ms = 1e3 * (time.perf_counter() - started)
        log.info("%s: %s; reopened (%.1f ms)", self.describe(), why, took_ms)

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
            self.reopen("another process changed it")
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
        self._watch.pause(RELOAD_PAUSE * seconds)
        log.info("%s: reloaded in %.0f ms", self.describe(), 1e3 * seconds)

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
            raise self.errors.translate("connect to", exc) from exc
        self._opened = True
        return self._client
