"""A PostgreSQL database as the keyword adapter uses it: one checked
connection first (so a wrong URL, database or password gets its own
sentence), then a ``psycopg_pool`` pool; reads retried once on a broken
connection, writes in one transaction and never retried; session advisory
locks on a connection of their own; and every driver error turned into a
``BoundaryError`` that says what to fix, naming the server without its
password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from chatbot.errors import BoundaryError, ConfigurationError, IndexMissingError

log = logging.getLogger(__name__)

T = TypeVar("T")


def describe_url(url: str) -> str:
    """The server a URL points to, without its password (for messages and logs)."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unreadable PostgreSQL URL"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"postgresql://{user}{host}:{port}/{parts.get('dbname') or ''}"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Database:
    """Connections to one PostgreSQL database; ``subject`` names what lives
    there in error messages ("the keyword index in schema 'boundary' of ..."),
    ``url_setting`` the variable the URL came from, and ``creator`` the
    command that creates the tables (the hint for a missing table or
    permission)."""

    def __init__(
        self,
        url: str,
        *,
        subject: str,
        name: str,
        pool_size: int,
        connect_timeout_s: float,
        url_setting: str = "CHATBOT_INDEX__POSTGRES_URL",
        creator: str = "`chatbot-ingest`",
    ) -> None:
        self.url = url
        self.where = describe_url(url)
        self.subject = subject
        self._url_setting = url_setting
        self._creator = creator
        self._timeout = max(1, int(connect_timeout_s))
        self._probe()
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            timeout=connect_timeout_s,
            kwargs={"connect_timeout": self._timeout, "autocommit": True},
            check=ConnectionPool.check_connection,
            configure=_configure,
            open=False,
            name=name,
        )
        self._pool.open(wait=True, timeout=connect_timeout_s)

    def close(self) -> None:
        self._pool.close()

    def read(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            with self._pool.connection() as conn:
                return list(conn.execute(sql, params).fetchall())

        try:
            return self._retrying(run)
        except (psycopg.Error, PoolTimeout) as exc:
            raise self.error("read", exc) from exc

    def write(self, action: str, work: Callable[[psycopg.Connection[Any]], object]) -> None:
        """``work`` in one transaction (rolled back if it raises)."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                work(conn)
        except (psycopg.Error, PoolTimeout) as exc:
            raise self.error(action, exc) from exc

    def run(self, statement: str) -> None:
        """One statement outside a transaction (``VACUUM``)."""
        with self._pool.connection() as conn:
            conn.execute(statement)

    @contextmanager
    def session_lock(self, name: str, wait_s: float, busy: str) -> Iterator[None]:
        """A session advisory lock named ``name`` on a connection of its own,
        held for the block; waits up to ``wait_s``, then raises
        ``BoundaryError(busy)``. The server drops it when the holder dies."""
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=self._timeout)
        except psycopg.Error as exc:
            raise self.error("lock", exc) from exc
        try:
            deadline = time.monotonic() + wait_s
            told = False
            while True:
                row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (name,))
                if (got := row.fetchone()) is not None and got[0]:
                    break
                if time.monotonic() >= deadline:
                    raise BoundaryError(busy)
                if not told:
                    log.info("waiting up to %.0fs for the lock %r", wait_s, name)
                    told = True
                time.sleep(0.5)
            yield
        except psycopg.Error as exc:
            raise self.error("lock", exc) from exc
        finally:
            conn.close()  # ends the session: the server releases the lock

    def error(self, action: str, exc: Exception) -> BoundaryError:
        where = self.subject
        if isinstance(exc, BoundaryError):
            return exc
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            return ConfigurationError(
                f"cannot {action} {where}: the database user lacks a permission "
                f"({first_line(exc)}): grant it USAGE and CREATE on the schema (and CREATE on "
                f"the database for the first run), or run the first {self._creator} as its owner"
            )
        if isinstance(exc, pg_errors.UndefinedTable):
            return IndexMissingError(
                f"cannot {action} {where}: its tables are missing ({first_line(exc)}): run "
                f"{self._creator}"
            )
        if isinstance(exc, PoolTimeout | psycopg.OperationalError):
            return BoundaryError(
                f"cannot {action} {where}: the server is not answering ({first_line(exc)}). "
                "Check that PostgreSQL is running and reachable; ingestion can be rerun, "
                "nothing committed is lost"
            )
        return BoundaryError(f"cannot {action} {where}: {first_line(exc)}")

    def _probe(self) -> None:
        try:
            psycopg.connect(self.url, connect_timeout=self._timeout).close()
        except psycopg.ProgrammingError as exc:
            raise ConfigurationError(
                f"{self._url_setting} is not a PostgreSQL URL ({exc}): write it as "
                "postgresql://user:password@host:5432/database"
            ) from exc
        except psycopg.OperationalError as exc:
            raise BoundaryError(
                f"cannot connect to PostgreSQL at {self.where}: {first_line(exc)}. Check "
                "that the server runs and accepts this host, and the user, password and "
                f"database in {self._url_setting}"
            ) from exc

    def _retrying(self, run: Callable[[], T]) -> T:
        try:
            return run()
        except psycopg.OperationalError as exc:
            # The pool drops a broken connection when it comes back; one more
            # try on a fresh one covers a server restart between requests.
            log.warning("PostgreSQL read failed (%s); retrying once", first_line(exc))
            return run()


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Each new pooled connection: no JIT compilation. Every statement here
    is short; the planner's cost of the keyword search (a join over CTEs it
    cannot estimate) passed ``jit_above_cost`` and JIT took 30-650 ms of a
    3 ms search (``benchmarks/scale_bench.py``, 3,000 chunks)."""
    conn.execute("SET jit = off")
