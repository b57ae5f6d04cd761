"""The web app and API while the embedded LLM is starting or failed to start,
on fakes: gate refusals are still answered at once, questions that need the
model get one clear sentence (HTTP 503 with Retry-After on the API), and the
page and /health show the LLM's state. The server's own status is checked on
an ``EmbeddedServer`` that never launches vLLM."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chatbot.assistant import Assistant
from chatbot.audit import AuditStore
from chatbot.channels.api import create_app
from chatbot.channels.gradio_ui import chat_turn
from chatbot.channels.render import render_error, render_llm_status
from chatbot.errors import GeneratorStartingError, GeneratorUnavailableError
from chatbot.llm.cpu import parse_cpuinfo
from chatbot.llm.readiness import ReadinessGenerator, readiness_wrapped
from chatbot.llm.server import EmbeddedServer
from chatbot.llm.status import READY, LLMState, LLMStatus
from chatbot.protocols import ChatMessage, JsonGenerator
from chatbot.settings import EmbeddedLLMSettings
from tests.builders import (
    IN_CORPUS,
    IN_CORPUS_REPLY,
    LOOPBACK,
    OFF_TOPIC,
    STATUS,
    asker,
    local_access,
    pipeline_with,
)
from tests.fakes_llm import ScriptedGenerator

STARTING = LLMStatus(LLMState.STARTING, elapsed_s=40.0, expected_s=300.0)
FAILED = LLMStatus(LLMState.UNAVAILABLE, reason="the server exited with code 1")


class Switch:
    """A status source a test can flip."""

    def __init__(self, status: LLMStatus) -> None:
        self.current = status

    def __call__(self) -> LLMStatus:
        return self.current


def assistant_for(audit: AuditStore, status: Switch) -> tuple[Assistant, ScriptedGenerator]:
    scripted = ScriptedGenerator(IN_CORPUS_REPLY)
    generator = readiness_wrapped(scripted, status, "boundary-local")
    return Assistant(pipeline_with(generator), audit), scripted  # type: ignore[arg-type]


def test_while_starting_the_generator_says_so_and_never_calls_the_server() -> None:
    scripted = ScriptedGenerator("never")
    generator = readiness_wrapped(scripted, lambda: STARTING, "boundary-local")
    with pytest.raises(GeneratorStartingError) as raised:
        list(generator.stream([ChatMessage("user", "hi")]))
    assert raised.value.retry_after_s == pytest.approx(260.0)
    assert "still starting (about 260 s more)" in str(raised.value)
    assert isinstance(generator, JsonGenerator)
    with pytest.raises(GeneratorStartingError):
        generator.complete_json([], {}, name="x", max_tokens=5)
    assert scripted.calls == [] and scripted.json_calls == []
    assert generator.model_name == "boundary-local"  # the real one needs /v1/models


class StreamOnly:
    """A generator that makes no JSON calls."""

    model_name = "stream-only"

    def stream(self, messages: object) -> object:
        yield "ok"


def test_json_calls_are_offered_only_when_the_wrapped_client_makes_them() -> None:
    wrapped = readiness_wrapped(StreamOnly(), lambda: READY, "boundary-local")  # type: ignore[arg-type]
    assert not isinstance(wrapped, JsonGenerator)
    assert "".join(wrapped.stream([ChatMessage("user", "hi")])) == "ok"


def test_a_failed_start_is_unavailable_with_its_reason() -> None:
    generator = ReadinessGenerator(ScriptedGenerator(), lambda: FAILED, "boundary-local")
    with pytest.raises(GeneratorUnavailableError, match="exited with code 1") as raised:
        list(generator.stream([ChatMessage("user", "hi")]))
    assert not isinstance(raised.value, GeneratorStartingError)


def test_once_ready_it_passes_through() -> None:
    generator = ReadinessGenerator(ScriptedGenerator("ok"), lambda: READY, "boundary-local")
    assert "".join(generator.stream([ChatMessage("user", "hi")])) == "ok"
    assert generator.model_name == "scripted"


def test_api_answers_gate_refusals_and_asks_to_retry_the_rest(audit: AuditStore) -> None:
    status = Switch(STARTING)
    assistant, scripted = assistant_for(audit, status)
    client = TestClient(
        create_app(assistant, lambda _: STATUS, status, access=local_access()), client=LOOPBACK
    )

    health = client.get("/health").json()
    assert health == {
        "status": "ok",
        "llm": {"state": "starting", "elapsed_s": 40.0, "expected_s": 300.0},
    }
    refused = client.post("/v1/ask", json={"question": OFF_TOPIC})
    assert refused.status_code == 200 and refused.json()["kind"] == "refusal"

    waiting = client.post("/v1/ask", json={"question": IN_CORPUS})
    assert waiting.status_code == 503
    assert waiting.json()["error"] == "llm_starting"
    assert waiting.headers["Retry-After"] == "260"
    assert scripted.calls == []

    status.current = READY
    assert client.get("/health").json()["llm"] == {"state": "ready"}
    answered = client.post("/v1/ask", json={"question": IN_CORPUS})
    assert answered.status_code == 200 and answered.json()["kind"] == "answer"


def test_api_reports_a_failed_start_in_health(audit: AuditStore) -> None:
    assistant, _ = assistant_for(audit, Switch(FAILED))
    client = TestClient(
        create_app(assistant, lambda _: STATUS, lambda: FAILED, access=local_access()),
        client=LOOPBACK,
    )
    assert client.get("/health").json()["llm"] == {
        "state": "unavailable",
        "reason": "the server exited with code 1",
    }
    response = client.post("/v1/ask", json={"question": IN_CORPUS})
    assert response.status_code == 503 and response.json()["error"] == "llm_unavailable"


def test_web_chat_turn_tells_the_user_the_model_is_starting(audit: AuditStore) -> None:
    assistant, _ = assistant_for(audit, Switch(STARTING))
    final = list(chat_turn(assistant, IN_CORPUS, [], principal=asker()))[-1]
    shown = final.history[-1]["content"]
    assert "boundary-error" in shown and "still starting" in shown and "260 s" in shown
    assert "Traceback" not in shown

    refusal = list(chat_turn(assistant, OFF_TOPIC, [], principal=asker()))[-1]
    assert "boundary-refusal" in refusal.history[-1]["content"]


def test_status_lines_in_both_languages() -> None:
    assert "warming up, 40 s so far (about 260 s more)" in render_llm_status(STARTING)
    assert "啟動中" in render_llm_status(STARTING, "zh")
    assert "ready" in render_llm_status(READY)
    assert "exited with code 1" in render_llm_status(FAILED)
    error = GeneratorStartingError("x", retry_after_s=12)
    assert "about 12 s more" in render_error(error)
    assert "約需再等 12 秒" in render_error(error, "zh")


def test_embedded_server_status_before_during_and_after_a_failed_start(tmp_path: Path) -> None:
    settings = EmbeddedLLMSettings(
        cache_dir=tmp_path / "models",
        log_file=tmp_path / "vllm.log",
        model_dir=tmp_path / "no-such-model",
        port=1,  # nothing listens there
        engine="vllm",
    )
    server = EmbeddedServer(settings, cpu=parse_cpuinfo("flags : avx2"))
    before = server.status()
    assert before.state is LLMState.STARTING and before.expected_s == 300.0
    with pytest.raises(Exception, match=r"no config\.json"):
        server.start()
    after = server.status()
    assert after.state is LLMState.UNAVAILABLE and "no config.json" in after.reason
