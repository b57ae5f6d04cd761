"""Back-pressure in front of the LLM: a few places at a time, a short line,
and a clear "busy, try again in N s" instead of an ever-growing wait.

The LLM is the one slow, shared part: a CPU server writes a handful of
answers at once, and a request that waits behind fifty others would only
time out. ``Admission`` holds ``slots`` places (as many as the server batches,
``--max-num-seqs`` for the embedded one) and a line of at most ``queue``
waiting requests, each waiting at most ``wait_s``. A request that finds the
line full, or whose expected wait is already longer than ``wait_s``, is
turned away at once with ``BusyError`` and about when to come back; so is
one whose wait runs out. Nothing before the LLM step takes a place: gate
refusals, which need no model, are answered at their normal speed however
busy the model is.

The expected wait comes from how long places have been held lately (an
exponentially weighted mean, seeded with ``expected_s``), times the
requests ahead, divided by the places.

These places are this process's. Replicas in front of one LLM server share
theirs with ``chatbot.adapters.pg_admission.SharedAdmission``
(``CHATBOT_LLM__ADMISSION=postgres``): the same line here, plus one of the
server's places, which every replica counts through PostgreSQL.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from chatbot.errors import BusyError

_SMOOTHING = 0.2  # weight of the newest holding time in the running mean


@dataclass(frozen=True, slots=True)
class AdmissionState:
    """A snapshot for /health and the logs. ``scope`` is "process" for places
    counted here, "postgres:<group>" for places shared by replicas; then
    ``shared_in_use`` is how many of them all replicas hold (-1: unknown) and
    ``shared_problem`` why they are not being used, if PostgreSQL fails."""

    slots: int
    in_use: int
    waiting: int
    queue: int
    admitted: int
    turned_away: int
    mean_hold_s: float
    scope: str = "process"
    shared_in_use: int | None = None
    shared_problem: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "scope": self.scope,
            "slots": self.slots,
            "in_use": self.in_use,
            "waiting": self.waiting,
            "queue": self.queue,
            "admitted": self.admitted,
            "turned_away": self.turned_away,
            "mean_hold_s": round(self.mean_hold_s, 2),
        }
        if self.shared_in_use is not None:
            out["shared_in_use"] = self.shared_in_use
        if self.shared_problem is not None:
            out["shared_problem"] = self.shared_problem
        return out


class Admission:
    """Thread-safe; one per process, shared by every channel's requests."""

    def __init__(
        self,
        slots: int,
        queue: int,
        wait_s: float,
        *,
        expected_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if slots < 1 or queue < 0 or wait_s < 0:
            raise ValueError("admission needs slots >= 1, queue >= 0 and wait_s >= 0")
        self.slots = slots
        self.queue = queue
        self.wait_s = wait_s
        self._clock = clock
        self._cond = threading.Condition()
        self._in_use = 0
        self._waiting = 0
        self._admitted = 0
        self._turned_away = 0
        self._mean_hold_s = expected_s

    def state(self) -> AdmissionState:
        with self._cond:
            return AdmissionState(
                self.slots,
                self._in_use,
                self._waiting,
                self.queue,
                self._admitted,
                self._turned_away,
                self._mean_hold_s,
            )

    def retry_after_s(self) -> int:
        """About how many seconds until a newcomer would get a place (>= 1)."""
        with self._cond:
            return self._estimate(self._waiting + 1)

    def _expected_s(self, ahead: int) -> float:
        # caller holds the lock
        return ahead / self.slots * self._mean_hold_s

    def _estimate(self, ahead: int) -> int:
        # caller holds the lock; whole seconds, at least one (for Retry-After)
        return max(1, math.ceil(self._expected_s(ahead)))

    def _busy(self, why: str) -> BusyError:
        # caller holds the lock
        self._turned_away += 1
        wait = self._estimate(self._waiting + 1)
        return BusyError(
            f"the language model is busy with other questions ({why}); "
            f"please try again in about {wait} s",
            retry_after_s=wait,
        )

    @contextmanager
    def place(self) -> Iterator[None]:
        """Hold one place while the block runs; raises ``BusyError`` when
        none comes within ``wait_s`` (or clearly would not)."""
        deadline = self._clock() + self.wait_s
        with self._cond:
            if self._in_use >= self.slots:
                if self._waiting >= self.queue:
                    raise self._busy(f"{self._waiting} already waiting")
                if self._expected_s(self._waiting + 1) > self.wait_s > 0:
                    raise self._busy("the expected wait is longer than the limit")
                self._waiting += 1
                try:
                    while self._in_use >= self.slots:
                        remaining = deadline - self._clock()
                        if remaining <= 0:
                            raise self._busy(f"no place came within {self.wait_s:.0f} s")
                        self._cond.wait(remaining)
                finally:
                    self._waiting -= 1
            self._in_use += 1
            self._admitted += 1
        try:
            with self._wider_place(deadline):
                started = self._clock()
                try:
                    yield
                finally:
                    held = self._clock() - started
                    with self._cond:
                        self._mean_hold_s += _SMOOTHING * (held - self._mean_hold_s)
        finally:
            with self._cond:
                self._in_use -= 1
                self._cond.notify()

    def _wider_place(self, deadline: float) -> AbstractContextManager[None]:
        """A place beyond this process's (none here; the replicas' shared
        places in ``chatbot.adapters.pg_admission``), taken by ``deadline``
        or ``BusyError``. Only time inside it counts as holding time."""
        return nullcontext()


@contextmanager
def no_limit() -> Iterator[None]:
    """The place of a pipeline without admission control."""
    yield


__all__ = ["Admission", "AdmissionState", "no_limit"]
