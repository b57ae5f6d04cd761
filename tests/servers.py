"""Real local servers for tests: a free port, and a ``chroma run`` server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eval.load import free_port

__all__ = ["chroma_server", "free_port"]


@contextmanager
def chroma_server(folder: Path) -> Iterator[tuple[str, int]]:
    """A real Chroma server (the ``chroma run`` CLI) on a free local port,
    with its data and log in ``folder``; skips where the CLI is missing."""
    exe = Path(sys.executable).parent / "chroma"
    if not exe.exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = free_port()
    command = [str(exe), "run", "--path", str(folder / "data"), "--host", "127.0.0.1"]
    with (folder / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("chroma server did not start: see " + str(folder / "server.log"))
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
