"""Helpers the benchmark scripts share (imported as ``common``: each script
runs with benchmarks/ first on its path)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from chatbot.llm.server import EmbeddedServer


@contextmanager
def environment(changes: dict[str, str]) -> Iterator[None]:
    """Set these environment variables for the block, then restore them."""
    saved = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def fresh_compile_caches(extra: dict[str, str] | None = None) -> Iterator[None]:
    """Point vLLM's and torch inductor's caches at an empty folder for the
    block (a cold start, as on a brand-new machine), with ``extra`` variables."""
    with tempfile.TemporaryDirectory(prefix="boundary-bench-caches-") as folder:
        changes = {
            "VLLM_CACHE_ROOT": os.path.join(folder, "vllm"),
            "TORCHINDUCTOR_CACHE_DIR": os.path.join(folder, "inductor"),
            **(extra or {}),
        }
        with environment(changes):
            yield


def start_timed(server: EmbeddedServer) -> float:
    """Start (or adopt) the server; seconds until it was healthy."""
    started = time.monotonic()
    server.start()
    return time.monotonic() - started
