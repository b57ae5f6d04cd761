"""The LLM's places shared by every app replica, through PostgreSQL.

``chatbot.admission.Admission`` counts places in one process: two replicas in
front of one vLLM server, each with 4 places, send it 8 questions at once.
``SharedAdmission`` keeps that class's line and "busy" answers, and adds one
rule: a question also needs one of ``slots`` places numbered 0..slots-1 that
all replicas of a ``group`` share. A place is a PostgreSQL session advisory
lock ``(group key, number)`` held on a pooled connection while the LLM works:

- nothing to create or clean up: no table, no rows left behind;
- a replica that dies (SIGKILL, lost host) ends its sessions, and the server
  frees its places at once; no lease to expire;
- the number of places in use is one query on ``pg_locks`` (for /health).

A question waits for a shared place at most what is left of ``wait_s`` after
the local line, polling every ``poll_s``; then it is told "busy" with a retry
time, as the local line does. When PostgreSQL cannot be reached the places
fall back to this process's own (logged once a minute, shown in /health):
back-pressure should not stop a bank's staff getting answers, and the local
line still bounds what this replica sends.
"""

from __future__ import annotations

import logging
import math
import random
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from chatbot.adapters.pg_connection import describe_url, first_line
from chatbot.admission import Admission, AdmissionState
from chatbot.errors import BoundaryError, BusyError, ConfigurationError

log = logging.getLogger(__name__)

_WARN_EVERY_S = 60.0

_COUNT_HELD = """
SELECT count(*) FROM pg_locks
 WHERE locktype = 'advisory' AND granted AND objsubid = 2
   AND classid = %(key)s::oid AND objid < %(slots)s::oid
   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def group_key(group: str) -> int:
    """The first half of every lock key of ``group``: a stable positive int4
    (the same in every replica and every Python), so ``pg_locks`` shows it."""
    return zlib.crc32(f"boundary-llm:{group}".encode()) & 0x7FFFFFFF


class SharedAdmission(Admission):
    """``Admission`` whose ``slots`` are shared by every process that uses the
    same database and ``group``; ``queue`` and ``wait_s`` stay per process."""

    def __init__(
        self,
        url: str,
        *,
        slots: int,
        queue: int,
        wait_s: float,
        group: str = "default",
        connect_timeout_s: float = 5.0,
        url_setting: str = "CHATBOT_LLM__ADMISSION_POSTGRES_URL",
        expected_s: float = 10.0,
        poll_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(slots, queue, wait_s, expected_s=expected_s, clock=clock)
        self.group = group
        self.where = describe_url(url)
        self._key = group_key(group)
        self._poll_s = poll_s
        self._timeout = max(1, int(connect_timeout_s))
        self._last_warning = -math.inf
        self._problem: str | None = None
        try:
            psycopg.connect(url, connect_timeout=self._timeout).close()
        except psycopg.ProgrammingError as exc:
            raise ConfigurationError(
                f"{url_setting} is not a PostgreSQL URL ({exc}): write it as "
                "postgresql://user:password@host:5432/database"
            ) from exc
        except psycopg.OperationalError as exc:
            raise BoundaryError(
                f"cannot connect to PostgreSQL at {self.where} for the shared LLM places: "
                f"{first_line(exc)}. Check the server and {url_setting}, or set "
                "CHATBOT_LLM__ADMISSION=process to count places in each process"
            ) from exc
        # One connection per place this process can hold, one for /health.
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=slots + 1,
            timeout=connect_timeout_s,
            kwargs={
                "connect_timeout": self._timeout,
                "autocommit": True,
                # what an operator sees in pg_stat_activity
                "application_name": f"boundary-admission:{group}"[:63],
            },
            check=ConnectionPool.check_connection,
            open=False,
            name="boundary-admission",
        )
        self._pool.open(wait=True, timeout=connect_timeout_s)

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _wider_place(self, deadline: float) -> Iterator[None]:
        seat = self._take_shared(deadline)
        try:
            yield
        finally:
            if seat is not None:
                self._give_back(*seat)

    def state(self) -> AdmissionState:
        local = super().state()
        try:
            with self._pool.connection(timeout=2.0) as conn:
                row = conn.execute(_COUNT_HELD, {"key": self._key, "slots": self.slots}).fetchone()
            held = int(row[0]) if row else 0
            problem = self._problem
        except (psycopg.Error, PoolTimeout) as exc:
            held, problem = -1, f"PostgreSQL at {self.where}: {first_line(exc)}"
        return AdmissionState(
            local.slots,
            local.in_use,
            local.waiting,
            local.queue,
            local.admitted,
            local.turned_away,
            local.mean_hold_s,
            scope=f"postgres:{self.group}",
            shared_in_use=held,
            shared_problem=problem,
        )

    def _take_shared(self, deadline: float) -> tuple[psycopg.Connection[Any], int] | None:
        """A shared place, its connection kept out of the pool while held;
        None when PostgreSQL fails (the local place then stands alone)."""
        try:
            conn = self._pool.getconn(timeout=max(0.1, deadline - self._clock()))
        except (PoolTimeout, psycopg.Error) as exc:
            self._degrade(exc)
            return None
        try:
            while True:
                # a random first number spreads replicas over the places
                start = random.randrange(self.slots)
                for n in range(self.slots):
                    slot = (start + n) % self.slots
                    row = conn.execute(
                        "SELECT pg_try_advisory_lock(%s, %s)", (self._key, slot)
                    ).fetchone()
                    if row is not None and row[0]:
                        self._problem = None
                        return conn, slot
                if self._clock() + self._poll_s > deadline:
                    self._pool.putconn(conn)
                    raise self._all_taken()
                time.sleep(self._poll_s)
        except psycopg.Error as exc:
            self._pool.putconn(conn)  # the pool's check drops it if broken
            self._degrade(exc)
            return None

    def _give_back(self, conn: psycopg.Connection[Any], slot: int) -> None:
        try:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (self._key, slot))
        except psycopg.Error as exc:
            # a broken session has already lost its locks with it
            log.warning("could not give back shared LLM place %d: %s", slot, first_line(exc))
        finally:
            self._pool.putconn(conn)

    def _all_taken(self) -> BusyError:
        with self._cond:
            self._turned_away += 1
            wait = max(1, math.ceil(self._mean_hold_s / self.slots))
        return BusyError(
            f"the language model is busy with other questions (all {self.slots} places "
            f"shared by the replicas are taken); please try again in about {wait} s",
            retry_after_s=wait,
        )

    def _degrade(self, exc: BaseException) -> None:
        self._problem = f"PostgreSQL at {self.where}: {first_line(exc)}"
        now = self._clock()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            log.warning(
                "shared LLM places unavailable (%s); counting this process's own places "
                "until PostgreSQL answers again",
                self._problem,
            )


__all__ = ["SharedAdmission", "group_key"]
