"""`make run`'s main job from empty compile caches, as on a brand-new machine.

``app.py`` runs as its own process with fresh ``VLLM_CACHE_ROOT`` and
``TORCHINDUCTOR_CACHE_DIR`` folders, its own ports, index and audit file, and
no start-up setting: the profile chosen for this machine's CPU decides the
timeout. The web app must be reachable before the LLM is ready (and say it is
starting), refuse an off-topic question meanwhile, then report the LLM ready
within the default budget and answer an in-corpus question with a citation.
SIGTERM must stop the vLLM server it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatbot.llm.launch import port_in_use
from chatbot.llm.server import EmbeddedServer
from chatbot.settings import EmbeddedLLMSettings
from tests.conftest import REPO_ROOT
from tests.servers import free_port

pytestmark = [pytest.mark.real, pytest.mark.llm, pytest.mark.slow]

UI_REACHABLE_S = 120.0  # ingestion of the sample corpus, then uvicorn; no LLM wait


@pytest.fixture
def app_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, int, Path]]:
    ui_port, llm_port = free_port(), free_port()
    log = tmp_path / "app.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR")
    }
    env.update(
        {
            "VLLM_CACHE_ROOT": str(tmp_path / "cache" / "vllm"),
            "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache" / "inductor"),
            "CHATBOT_UI__PORT": str(ui_port),
            "CHATBOT_EMBEDDED__PORT": str(llm_port),
            "CHATBOT_EMBEDDED__CACHE_DIR": str(REPO_ROOT / "models"),
            "CHATBOT_EMBEDDED__LOG_FILE": str(tmp_path / "vllm.log"),
            "CHATBOT_INDEX__PATH": str(tmp_path / "index"),
            "CHATBOT_AUDIT__PATH": str(tmp_path / "audit.sqlite3"),
            "CHATBOT_INGEST__CORPUS_DIR": str(REPO_ROOT / "corpus"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "app.py")],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process, f"http://127.0.0.1:{ui_port}", llm_port, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(check, timeout_s: float, process: subprocess.Popen[bytes], log: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"app.py exited early:\n{log.read_text()[-3000:]}"
        result = check()
        if result:
            return result
        time.sleep(1.0)
    raise AssertionError(f"not within {timeout_s:.0f}s:\n{log.read_text()[-3000:]}")


def health(url: str) -> dict[str, object] | None:
    try:
        response = httpx.get(f"{url}/health", timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def test_first_start_on_empty_caches_serves_at_once_then_answers(
    app_process: tuple[subprocess.Popen[bytes], str, int, Path],
) -> None:
    process, url, llm_port, log = app_process
    started = time.monotonic()
    budget = EmbeddedServer(EmbeddedLLMSettings()).startup_timeout_s

    first = wait_for(lambda: health(url), UI_REACHABLE_S, process, log)
    ui_after = time.monotonic() - started
    llm = first["llm"]
    assert isinstance(llm, dict)
    if llm["state"] == "starting":  # on a fast CPU it may already be up
        assert llm["expected_s"] == budget
        page = httpx.get(url, timeout=30)
        assert page.status_code == 200
        refused = httpx.post(
            f"{url}/v1/ask", json={"question": "Who won the 2022 FIFA World Cup?"}, timeout=60
        )
        assert refused.status_code == 200 and refused.json()["kind"] == "refusal"
        waiting = httpx.post(
            f"{url}/v1/ask",
            json={"question": "When did the HKMA and Cyberport launch the GenA.I. Sandbox?"},
            timeout=60,
        )
        if waiting.status_code == 503:  # still starting: told so, with a retry hint
            assert waiting.json()["error"] == "llm_starting"
            assert int(waiting.headers["Retry-After"]) >= 5

    def ready() -> bool:
        state = (health(url) or {}).get("llm", {})
        assert isinstance(state, dict)
        assert state.get("state") != "unavailable", state
        return state.get("state") == "ready"

    wait_for(ready, budget, process, log)
    ready_after = time.monotonic() - started
    answer = httpx.post(
        f"{url}/v1/ask",
        json={"question": "When did the HKMA and Cyberport launch the GenA.I. Sandbox?"},
        timeout=300,
    ).json()
    assert answer["kind"] == "answer", answer
    assert any(c["source"] == "hkma-genai-sandbox-overview.pdf" for c in answer["citations"])
    text = log.read_text()
    assert "LLM start-up:" in text  # the console named the stages
    print(f"UI reachable after {ui_after:.0f}s, LLM ready after {ready_after:.0f}s")

    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert not port_in_use("127.0.0.1", llm_port), "the vLLM server outlived app.py"
