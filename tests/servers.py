"""Real local servers for tests: a free port, and a ``chroma run`` server
(``eval.servers``; a missing CLI skips the test)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eval.load import free_port
from eval.servers import ServerMissing
from eval.servers import chroma_server as start_chroma

__all__ = ["chroma_server", "free_port"]


@contextmanager
def chroma_server(folder: Path) -> Iterator[tuple[str, int]]:
    """A real Chroma server on a free local port, with its data and log in
    ``folder``; skips where the CLI is missing, fails where it does not start."""
    try:
        with start_chroma(folder) as (host, port, _pid):
            yield host, port
    except ServerMissing as exc:
        pytest.skip(str(exc))
    except RuntimeError as exc:
        pytest.fail(str(exc))
