"""Parse corpus files in a worker process with a time and a memory limit.

A hostile or broken file (a decompression bomb, a reference loop that never
ends, a parser bug that segfaults) must cost one file, not the whole sync.
So ``load_document`` runs in a long-lived worker process:

- a fresh interpreter, never a fork: the parent has torch and the embedder
  loaded (threads, gigabytes). It is launched the way multiprocessing's
  "spawn" method launches one, minus spawn's re-import of the parent's
  ``__main__`` (which would load the CLI, or crash a script without a
  ``__main__`` guard): ``python -c`` that runs ``ingest.worker.serve`` and
  imports the parser (``ingest.loaders``; pypdf only when a PDF comes),
  talking over a socket pair with ``multiprocessing.connection``;
- started lazily, on the first file that needs parsing, reused for the files
  after it, and stopped when the sync ends (``with open_loader(...)``);
- its address space is capped with ``RLIMIT_AS`` as it starts, so an
  allocation past the cap fails inside the worker (``MemoryError``) instead
  of exhausting the machine; its CPU time is capped per file too, so a worker
  whose parent has gone away cannot spin for ever;
- the parent waits for each file's result at most ``timeout_s`` seconds,
  except that a file being OCR'd reports each page Tesseract has read
  (``ingest.ocr.set_progress``), and each report is logged and gives the
  file another ``timeout_s`` (CPU limit included): a 100-page scan is slow,
  not stuck.

A timeout, a ``MemoryError`` or the worker dying (killed, segfault) stops the
worker (the next file starts a fresh one) and raises ``IngestionError`` for
that file, saying what happened and what to do. ``memory_mb = 0`` parses in
the calling process with no limits, for debugging (a traceback instead of a
report).

Log records the parser emits (pypdf's repairs, the loaders' notes) are sent
back with each result and logged in the parent, so verbosity works as before.
This module is the parent's side; the worker's, and the messages between
them, are in ``ingest.worker``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from chatbot.errors import ConfigurationError, IngestionError
from ingest.blocks import LoadedDocument
from ingest.loaders import load_document
from ingest.ocr import OcrOptions, set_progress
from ingest.worker import BOOT, EXIT_MEMORY, LOGGERS, replay

if TYPE_CHECKING:
    from chatbot.settings import IngestSettings

log = logging.getLogger(__name__)

Parse = Callable[..., LoadedDocument]
"""``parse(path, source, *, max_file_mb=..., ocr=...)``: ``load_document`` or a
stand-in with its signature. Runs in the worker, so it must be a module-level
function."""

_START_TIMEOUT_S = 60.0  # a bare interpreter importing the loaders takes well under 1 s

TIMEOUT_HINT = (
    "check that the file opens normally in its usual program; if it is simply very "
    "large, split it or raise CHATBOT_INGEST__PARSE_TIMEOUT_S"
)
MEMORY_HINT = (
    "the file may be a decompression bomb or simply very large: check it, split it, "
    "or raise CHATBOT_INGEST__PARSE_MEMORY_MB"
)
CRASH_HINT = (
    "the file is probably damaged: re-export or re-download it and check that it "
    "opens in its usual program"
)


class DocumentLoader(Protocol):
    def load(self, path: Path, source: str) -> LoadedDocument:
        """Read ``path`` (shown as ``source``); raises ``IngestionError`` for a
        file that cannot be used."""
        ...


@dataclass(frozen=True, slots=True)
class ParseLimits:
    timeout_s: float = 60.0
    memory_mb: int = 2048  # 0: parse in-process, no limits
    max_file_mb: float = 50.0
    ocr: OcrOptions = field(default_factory=OcrOptions)


class InProcessLoader:
    """``load_document`` in the calling process: no limits (``memory_mb = 0``)."""

    def __init__(self, limits: ParseLimits, parse: Parse = load_document) -> None:
        self._limits = limits
        self._parse = parse

    def load(self, path: Path, source: str) -> LoadedDocument:
        set_progress(_log_progress)
        try:
            return self._parse(
                path, source, max_file_mb=self._limits.max_file_mb, ocr=self._limits.ocr
            )
        finally:
            set_progress(None)

    def __enter__(self) -> InProcessLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass(slots=True)
class WorkerStats:
    """What the worker did, for the log line at the end of a sync."""

    files: int = 0
    starts: int = 0
    restarts: int = 0  # after a timeout, a MemoryError or a crash
    peak_rss_mb: float = 0.0  # the largest resident size any worker reached


@dataclass(slots=True)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection

    def exit_status(self, timeout: float = 5.0) -> int | None:
        """The return code (negative: killed by that signal), None if still running."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


class IsolatedLoader:
    """Parses each file in the worker process; see the module docstring.

    Use as a context manager: the worker starts on the first ``load`` and is
    stopped on exit. Not thread-safe: one sync uses one loader.
    """

    def __init__(self, limits: ParseLimits, parse: Parse = load_document) -> None:
        if limits.memory_mb <= 0 or limits.timeout_s <= 0:
            raise ValueError("IsolatedLoader needs a positive timeout and memory limit")
        self._limits = limits
        self._parse = parse
        self._worker: _Worker | None = None
        self.stats = WorkerStats()

    def __enter__(self) -> IsolatedLoader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker (politely, then by force); safe to call twice."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        with contextlib.suppress(OSError):  # it may be gone already
            worker.conn.send(None)
        if worker.exit_status(timeout=2) is None:
            worker.process.kill()
            worker.exit_status()
        worker.conn.close()
        stats = self.stats
        log.info(
            "parsing worker: %d files, %d starts (%d after a failure), peak memory %.0f MB",
            stats.files,
            stats.starts,
            stats.restarts,
            stats.peak_rss_mb,
        )

    def load(self, path: Path, source: str) -> LoadedDocument:
        worker = self._worker
        if worker is not None and worker.process.poll() is not None:
            self._discard(worker)  # it died while idle: not this file's doing
            worker = None
        worker = worker or self._start()
        request = (os.fspath(path), source, self._limits.max_file_mb, self._limits.ocr)
        try:
            worker.conn.send(request)
        except OSError:  # it died between two files: start afresh, once
            self._discard(worker)
            worker = self._start()
            worker.conn.send(request)
        self.stats.files += 1
        reply = self._reply(worker, source)
        status, payload, records, rss_kb = reply
        self.stats.peak_rss_mb = max(self.stats.peak_rss_mb, rss_kb / 1024)
        replay(records)
        if status == "ok":
            doc: LoadedDocument = payload
            return doc
        if status == "failed":
            failed_source, reason, hint = payload
            raise IngestionError(failed_source, reason, hint)
        if status == "memory":
            self._discard(worker)
            raise self._memory_error(source)
        # "error": an exception the loaders did not turn into IngestionError.
        raise IngestionError(source, f"the parser failed ({payload})", CRASH_HINT)

    # -- the worker's life ---------------------------------------------------

    def _start(self) -> _Worker:
        parent_end, child_end = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", BOOT, str(child_end.fileno())],
                pass_fds=(child_end.fileno(),),
                stdin=subprocess.DEVNULL,
                # The parent's import path, so the worker finds this package and
                # the module of ``parse`` however the parent was started.
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
        except OSError as exc:
            parent_end.close()
            raise ConfigurationError(
                f"cannot start the file-parsing worker process ({exc.strerror or exc}): "
                "free some memory or processes, or set CHATBOT_INGEST__PARSE_MEMORY_MB=0 "
                "to parse in-process without limits"
            ) from exc
        finally:
            child_end.close()  # the worker's copy only: its death then reads as EOF here
        worker = _Worker(process, Connection(parent_end.detach()))
        started = time.perf_counter()
        levels = {name: logging.getLogger(name).getEffectiveLevel() for name in LOGGERS}
        try:
            worker.conn.send((self._limits.memory_mb, self._limits.timeout_s, self._parse, levels))
            ready = worker.conn.poll(_START_TIMEOUT_S)
            message = worker.conn.recv() if ready else None
        except (EOFError, OSError):
            message = None
        if message != "ready":
            self._discard(worker)
            raise ConfigurationError(
                "the file-parsing worker process did not start "
                f"(exit status {worker.process.returncode}; its errors are above): if "
                f"{self._limits.memory_mb} MB is too little for it, raise "
                "CHATBOT_INGEST__PARSE_MEMORY_MB, or set it to 0 to parse in-process "
                "without limits"
            )
        if self.stats.starts:
            self.stats.restarts += 1
        self.stats.starts += 1
        log.debug("parsing worker %s started in %.2fs", process.pid, time.perf_counter() - started)
        self._worker = worker
        return worker

    def _discard(self, worker: _Worker) -> None:
        """Kill the worker at once (it is stuck, broken or over its memory)."""
        if worker.process.poll() is None:
            worker.process.kill()
        worker.exit_status()
        worker.conn.close()
        if self._worker is worker:
            self._worker = None

    def _reply(self, worker: _Worker, source: str) -> tuple[str, Any, list[Any], float]:
        while True:
            # Readable means a reply, or end-of-file: the worker died.
            if not wait([worker.conn], timeout=self._limits.timeout_s):
                self._discard(worker)
                raise IngestionError(
                    source, f"parsing took longer than {self._limits.timeout_s:g} s", TIMEOUT_HINT
                )
            try:
                reply: tuple[str, Any, list[Any], float] = worker.conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                break
            if reply[0] != "progress":
                return reply
            _log_progress(*reply[1])  # an OCR page done: the clock starts again
        # It died without answering: the exit status says how.
        self._discard(worker)
        code = worker.process.returncode
        if code == EXIT_MEMORY:
            raise self._memory_error(source)
        if code is not None and code < 0:
            number = -code
            if number == signal.SIGXCPU:
                raise IngestionError(
                    source, f"parsing took longer than {self._limits.timeout_s:g} s", TIMEOUT_HINT
                )
            if number == signal.SIGKILL:  # the kernel's OOM killer, or an operator
                raise IngestionError(
                    source, f"the parser was killed (signal {number})", MEMORY_HINT
                )
            raise IngestionError(source, f"the parser crashed (signal {number})", CRASH_HINT)
        raise IngestionError(source, f"the parser exited unexpectedly (status {code})", CRASH_HINT)

    def _memory_error(self, source: str) -> IngestionError:
        return IngestionError(
            source,
            f"parsing needed more than {self._limits.memory_mb} MB of memory",
            MEMORY_HINT,
        )


def limits_from(settings: IngestSettings) -> ParseLimits:
    return ParseLimits(
        timeout_s=settings.parse_timeout_s,
        memory_mb=settings.parse_memory_mb,
        max_file_mb=settings.max_file_mb,
        ocr=OcrOptions(
            languages=settings.ocr_languages,
            dpi=settings.ocr_dpi,
            min_confidence=settings.ocr_min_confidence,
            max_pages=settings.ocr_max_pages,
            page_timeout_s=settings.ocr_page_timeout_s,
            cache_dir=os.fspath(settings.ocr_cache_dir) if settings.ocr_cache_dir else "",
            enabled=settings.ocr,
        ),
    )


def _log_progress(source: str, done: int, total: int) -> None:
    if done == total or done % 5 == 1:
        log.info("%s: OCR page %d of %d", source, done, total)


def open_loader(
    limits: ParseLimits, parse: Parse = load_document
) -> IsolatedLoader | InProcessLoader:
    """The loader for these limits: isolated, or in-process when ``memory_mb`` is 0."""
    if limits.memory_mb <= 0:
        return InProcessLoader(limits, parse)
    return IsolatedLoader(limits, parse)


__all__ = [
    "CRASH_HINT",
    "MEMORY_HINT",
    "TIMEOUT_HINT",
    "DocumentLoader",
    "InProcessLoader",
    "IsolatedLoader",
    "ParseLimits",
    "WorkerStats",
    "limits_from",
    "open_loader",
]
