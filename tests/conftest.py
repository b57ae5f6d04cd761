"""Shared fixtures: isolated environment, settings under tmp_path, real parts.

Every test runs with no ``CHATBOT_*`` variable from the developer's shell, the
model hub offline, and index/log paths under its own ``tmp_path``. Tests do
not chdir (relative paths to the repository keep working); use ``repo_root``
for repository files and ``settings`` for a ``Settings`` that ignores any
``.env`` file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from chatbot.settings import Settings

if TYPE_CHECKING:
    from chatbot.adapters.st_embedder import SentenceTransformerEmbedder
    from chatbot.llm.server import EmbeddedServer

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("CHATBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CHATBOT_INDEX__PATH", str(tmp_path / "data" / "index"))
    monkeypatch.setenv("CHATBOT_EMBEDDED__LOG_FILE", str(tmp_path / "data" / "logs" / "vllm.log"))
    yield


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings from the (isolated) environment only, data under tmp_path."""
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    path = tmp_path / "corpus"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2, loaded once per test session."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    from chatbot.adapters.st_embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    embedder.embed(["warm up"])
    return embedder


@pytest.fixture(scope="session")
def repo_root_path() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[EmbeddedServer]:
    """The embedded vLLM CPU server, started once per session and supervised
    (restarted when it exits or hangs, as ``make run`` does).

    Builds the packaged model folder first if it is missing. A healthy server
    already on the port (e.g. from ``make run``) is reused and left running.
    """
    from chatbot.llm.server import EmbeddedServer
    from chatbot.settings import EmbeddedLLMSettings

    settings = EmbeddedLLMSettings(
        cache_dir=REPO_ROOT / "models",
        log_file=REPO_ROOT / "data" / "logs" / "vllm-tests.log",
    )
    server = EmbeddedServer(settings)
    server.start()
    server.supervise()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def embedded_llm(embedded_server: EmbeddedServer) -> str:
    """The embedded server's /v1 URL, ready (waits out a restart a test caused)."""
    import time

    deadline = time.monotonic() + embedded_server.startup_timeout_s
    while not embedded_server.status().ready and time.monotonic() < deadline:
        time.sleep(1.0)
    return embedded_server.base_url


@pytest.fixture(scope="session")
def llama_cpp_server() -> Iterator[EmbeddedServer]:
    """The embedded model on llama.cpp (the engine CPUs without bf16 hardware
    get by default), forced on whatever CPU runs the tests, on its own port so
    it can run beside the vLLM server. Started once per session."""
    from chatbot.llm.server import EmbeddedServer
    from chatbot.settings import EmbeddedLLMSettings

    settings = EmbeddedLLMSettings(
        engine="llama.cpp",
        port=8013,
        cache_dir=REPO_ROOT / "models",
        log_file=REPO_ROOT / "data" / "logs" / "llama-cpp-tests.log",
    )
    server = EmbeddedServer(settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the session (``eval.servers``), started in
    a temporary folder; tests isolate themselves with their own schema."""
    from eval.servers import PostgresMissing, postgres_server

    try:
        with postgres_server() as url:
            yield url
    except PostgresMissing as exc:
        pytest.skip(str(exc))
