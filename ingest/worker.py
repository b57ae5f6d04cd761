"""The parsing worker's side of ``ingest.isolation``: the process that reads
files for the sync, under a memory cap and a CPU-time limit.

``serve`` is its main loop, started by ``ingest.isolation.IsolatedLoader``
as ``python -c`` with one end of a socket pair (``BOOT``). This module
imports little (the parser comes with the set-up message, and is imported
by unpickling it), so a worker starts in well under a second.

The messages, pickled over ``multiprocessing.connection``:

- parent to worker: a set-up message ``(memory_mb, timeout_s, parse,
  log levels)``, answered ``"ready"``; then one request ``(path, source,
  max_file_mb, OCR options)`` at a time; ``None`` asks the worker to exit;
- worker to parent: for each request, any number of ``("progress",
  (source, pages_done, pages_total), [], 0.0)`` (an OCR page read), then one
  reply ``(status, payload, log records, peak RSS in KB)`` with status
  ``"ok"`` (the ``LoadedDocument``), ``"failed"`` (an ``IngestionError``'s
  source, reason and hint), ``"memory"`` or ``"error"`` (an exception in
  words). The log records are ``(logger name, level, message)``, logged
  again in the parent by ``replay``.
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import signal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from chatbot.errors import IngestionError, error_detail
from ingest.ocr import set_progress

BOOT = "import sys; from ingest.worker import serve; serve(int(sys.argv[1]))"
"""The worker's ``python -c`` program; its argument is the socket's fd."""

EXIT_MEMORY = 3  # the worker's exit status after a MemoryError it could not report
LOGGERS = ("", "pypdf", "ingest")  # loggers whose levels the worker takes from the parent
_RECORDS_PER_FILE = 20  # log records sent back per file; the rest are counted
_MB = 1024 * 1024


def replay(records: list[Any]) -> None:
    """Log, in the parent, the records a worker sent back with a reply."""
    for name, level, message in records:
        logging.getLogger(name).log(level, "%s", message)


class _Collect(logging.Handler):
    """Keeps the current file's log records, to send back with its result."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, int, str]] = []
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) >= _RECORDS_PER_FILE:
            self.dropped += 1
            return
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format must not fail the file
            message = str(record.msg)
        self.records.append((record.name, record.levelno, message[:500]))

    def take(self) -> list[tuple[str, int, str]]:
        records, self.records = self.records, []
        if self.dropped:
            records.append((__name__, logging.DEBUG, f"{self.dropped} more records"))
            self.dropped = 0
        return records


def _peak_rss_kb() -> float:
    """This process's peak resident memory, in KB. Linux's VmHWM starts afresh
    at exec; ru_maxrss would report the parent's peak from before the exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _limit_cpu(timeout_s: float) -> None:
    """Let this file use at most about twice the parent's timeout in CPU time.
    The parent normally kills the worker first (wall clock >= CPU time); this
    stops a worker whose parent died from spinning for ever (SIGXCPU)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + 2 * timeout_s + 5)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def serve(fd: int) -> None:
    """The worker's main loop, on the socket ``fd``; the messages are in the
    module docstring."""
    # Ctrl-C reaches the whole process group; the parent handles it and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    memory_mb, timeout_s, parse, levels = conn.recv()
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * _MB, memory_mb * _MB))
    collect = _Collect()
    root = logging.getLogger()
    root.handlers[:] = [collect]
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the parent has gone
        if request is None:
            return
        path, source, max_file_mb, ocr = request
        _limit_cpu(timeout_s)
        status: str
        payload: Any

        def progress(name: str, done: int, total: int) -> None:
            # An OCR page read: the parent gives the file another timeout, so
            # the CPU limit moves on with it.
            conn.send(("progress", (name, done, total), [], 0.0))
            _limit_cpu(timeout_s)

        set_progress(progress)
        try:
            status, payload = "ok", parse(Path(path), source, max_file_mb=max_file_mb, ocr=ocr)
        except IngestionError as exc:
            status, payload = "failed", (exc.source, exc.reason, exc.hint)
        except MemoryError:
            status, payload = "memory", None
        except Exception as exc:  # a loader bug, RecursionError on deep nesting...
            status, payload = "error", error_detail(exc, 300)
        records = collect.take()
        try:
            conn.send((status, payload, records, _peak_rss_kb()))
        except MemoryError:
            os._exit(EXIT_MEMORY)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # an odd result
            conn.send(("error", f"unusable result ({type(exc).__name__})", records, 0.0))
        except OSError:
            return  # the parent has gone
        if status == "memory":
            return  # a fresh worker is cheaper than trusting a heap that ran dry


__all__ = ["BOOT", "EXIT_MEMORY", "LOGGERS", "replay", "serve"]
