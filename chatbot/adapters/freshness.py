"""Seeing what other processes wrote: a change detector for SQLite files and
a gate that lets an adapter reopen its client while no call is using it.

The API, Slack and Teams processes answer while ``chatbot-ingest`` or the web
process writes the indexes. SQLite readers see every commit, but chromadb's
embedded client (1.5) keeps each collection's HNSW graph in memory and never
reloads it: its ``count()`` and ``get()`` read SQLite and see another
process's rows, its ``query()`` does not (chroma-core/chroma#3792). The vector
adapter therefore watches Chroma's own ``chroma.sqlite3`` with ``ChangeWatch``
and reopens its client when something committed there; ``UseGate`` makes the
reopen wait for calls in flight (the group-query threads included), since
closing a chromadb client breaks every collection object taken from it.

``ChangeWatch`` looks at most once per interval; a look is one ``stat`` of the
file (was it deleted or replaced?) and, on its own read-only connection,
``PRAGMA data_version``, which changes whenever another connection commits
(microseconds, ``benchmarks/freshness_bench.py``). Only after a commit does
it ask a small query of what the content is (for Chroma: the log's last
sequence number, each segment's applied one, the collections), since
chromadb commits on merely opening a client. It never reports a change
it has not seen, and a look that fails (the file is being written under an
exclusive lock) is repeated at the next one, so a change is late by at most
one interval, never lost. A reopen costs a reload of the graphs on the next
query (tens of milliseconds at 57 chunks, about a second at 20,000), so the
adapter ``pause``s the watch after one: while another process keeps writing,
reloading takes at most a tenth of the answering side's time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# How often the answering side looks for other processes' writes: a look costs
# microseconds, a reopen only follows a change (benchmarks/freshness_bench.py).
REFRESH_S = 1.0

# (device, inode) of a file, None when it does not exist.
Identity = tuple[int, int] | None


def file_identity(path: Path) -> Identity:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


class ChangeWatch:
    """Whether a SQLite file changed since it was last seen: replaced,
    deleted, created, or committed to by another connection (this process's
    own included).

    ``content``, optional, is a query whose result changes whenever what
    matters in the file does: after a commit it is asked, and a commit that
    left its result as it was is no change (chromadb commits on merely
    opening a client; without this, answering processes would keep making
    each other reload). ``mark()`` takes the current state as seen (call it
    before opening what reads the file); ``changed()`` looks at most once per
    ``interval_s`` and says True once per change. Thread-safe; opens nothing
    until used.
    """

    def __init__(
        self,
        path: Path,
        interval_s: float,
        *,
        content: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._interval = max(0.0, interval_s)
        self._content_sql = content
        self._clock = clock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        # data_version compares only within one connection: each connection
        # that has answered once is counted, and its answers carry its number.
        self._connections = 0
        self._answered = False
        self._warned = False  # a failing watch says so once
        self._seen: tuple[Identity, int, int | None] | None = None
        self._seen_content: str | None = None
        self._looked_at = -float("inf")

    @property
    def path(self) -> Path:
        return self._path

    def mark(self) -> None:
        """Take the file's state now as seen."""
        with self._lock:
            self._looked_at = self._clock()
            self._seen = self._state()
            self._seen_content = self._content()

    def changed(self) -> bool:
        """True when the file changed since it was marked or last reported
        changed; False in between looks, or when the state cannot be read
        now (it is read again at the next look)."""
        now = self._clock()
        if now - self._looked_at < self._interval:
            return False
        with self._lock:
            if now - self._looked_at < self._interval:
                return False  # another thread looked meanwhile
            self._looked_at = now
            state = self._state()
            seen = self._seen
            if seen is None:
                self._seen, self._seen_content = state, self._content()
                return False
            unreadable = state[2] is None and state[:2] == seen[:2]
            if unreadable or state == seen:
                return False
            # A commit, a new connection (whose data_version cannot be
            # compared with the old one's), a new file or a vanished one.
            content = self._content()
            self._seen = state
            same_file = state[0] == seen[0]
            if same_file and content is not None and content == self._seen_content:
                return False  # committed, but nothing that matters changed
            self._seen_content = content
            return True

    def pause(self, seconds: float) -> None:
        """Look again no sooner than ``seconds`` from now (or the interval,
        whichever is later)."""
        with self._lock:
            self._looked_at = max(self._looked_at, self._clock() + seconds - self._interval)

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    # -- internals ---------------------------------------------------------

    def _state(self) -> tuple[Identity, int, int | None]:
        identity = file_identity(self._path)
        if self._seen is not None and identity != self._seen[0]:
            self._disconnect()  # the connection reads the old file
        version = self._data_version() if identity is not None else None
        return identity, self._connections, version

    def _data_version(self) -> int | None:
        rows = self._ask("PRAGMA data_version")
        if rows is None:
            return None
        if not self._answered:
            self._answered = True
            self._connections += 1
        return int(rows[0][0])

    def _content(self) -> str | None:
        """The ``content`` query's result, None without one or when it
        cannot be read (then every commit counts)."""
        if self._content_sql is None or self._db is None:
            return None
        rows = self._ask(self._content_sql)
        return None if rows is None else repr(rows)

    def _ask(self, sql: str) -> list[tuple[Any, ...]] | None:
        try:
            if self._db is None:
                uri = self._path.resolve().as_uri() + "?mode=ro"
                # timeout 0: never wait behind a writer's lock; that look is
                # simply repeated at the next one.
                self._db = sqlite3.connect(
                    uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False
                )
                self._answered = False
            # fetchall: the statement runs to its end, so the shared lock it
            # takes is released at once (a rollback-journal writer needs that).
            rows = list(self._db.execute(sql).fetchall())
        except sqlite3.Error as exc:
            busy = getattr(exc, "sqlite_errorcode", None) in (
                sqlite3.SQLITE_BUSY,
                sqlite3.SQLITE_LOCKED,
            )
            if not busy:
                if not self._warned:
                    log.warning("cannot watch %s for changes: %s", self._path, exc)
                    self._warned = True
                if sql == "PRAGMA data_version":
                    self._disconnect()
            return None
        return rows

    def _disconnect(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):  # a broken one: nothing to keep
                self._db.close()
            self._db = None


class UseGate:
    """Calls use a client together; ``exclusive()`` waits until none does,
    holding new ones back meanwhile, so the client can be replaced.

    ``use()`` is re-entrant in a thread (a call that makes another call of
    the same adapter holds one use), and ``held()`` tells a thread whether it
    is inside a use: such a thread must not ask for ``exclusive()``, which
    would wait for itself.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._users = 0
        self._closing = False
        self._local = threading.local()

    def held(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    @contextmanager
    def use(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            with self._cond:
                while self._closing:
                    self._cond.wait()
                self._users += 1
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                with self._cond:
                    self._users -= 1
                    if self._users == 0:
                        self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        if self.held():
            raise RuntimeError("exclusive() inside use() would wait for itself")
        with self._cond:
            while self._closing:  # one replacement at a time
                self._cond.wait()
            self._closing = True
            while self._users:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._closing = False
                self._cond.notify_all()
