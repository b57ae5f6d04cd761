"""The JSON API on the fake pipeline: shapes, audit, feedback, faults, a real server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chatbot.assistant import Assistant
from chatbot.audit import AuditStore
from chatbot.channels.api import create_app
from chatbot.errors import GeneratorTimeoutError
from tests.builders import (
    EMBEDDER_FAILURE,
    IN_CORPUS,
    IN_CORPUS_REPLY,
    LOOPBACK,
    OFF_TOPIC,
    RERANKER_FAILURE,
    STATUS,
    FailingEmbedder,
    FailingReranker,
    local_access,
)


def app_for(assistant: Assistant) -> FastAPI:
    return create_app(assistant, lambda _: STATUS, access=local_access())


@pytest.fixture
def client_for(make_assistant: Callable[..., Assistant]) -> Callable[..., TestClient]:
    def make(*replies: object, **parts: object) -> TestClient:
        assistant = make_assistant(*replies, **parts)
        return TestClient(app_for(assistant), raise_server_exceptions=False, client=LOOPBACK)

    return make


def test_ask_returns_an_answer_with_citations_and_records_it(
    client_for: Callable[..., TestClient], audit: AuditStore
) -> None:
    response = client_for(IN_CORPUS_REPLY).post(
        "/v1/ask", json={"question": IN_CORPUS, "user": "u7", "conversation_id": "c9"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "answer" and body["text"] == IN_CORPUS_REPLY
    # No support judge ran: the field is there, and null.
    assert "short_answer" in body and body["short_answer"] is None
    assert body["citations"][0] == {
        "number": 1,
        "title": "Overview",
        "source": "overview.pdf",
        "page": 1,
        "unit": "",
        "section": "",
        "quote": "The HKMA and Cyberport launched the GenA.I. Sandbox in August 2024.",
        "ocr": "",
        "ocr_confidence": "",
        "attachment_of": "",
    }
    assert set(body["timings"]) == {
        "condense_s",
        "retrieve_s",
        "read_s",
        "queue_s",
        "generate_s",
        "verify_s",
        "total_s",
    }
    row = audit.get(body["interaction_id"])
    assert row is not None and (row.channel, row.user_id, row.conversation_id) == (
        "api",
        "local for u7",  # the signed-in principal, and whom the caller asked for
        "c9",
    )


def test_an_answer_carries_the_judges_short_answer(
    client_for: Callable[..., TestClient],
) -> None:
    client = client_for(IN_CORPUS_REPLY, short_answer="August 2024")
    body = client.post("/v1/ask", json={"question": IN_CORPUS}).json()
    assert body["kind"] == "answer" and body["short_answer"] == "August 2024"
    assert body["text"] == IN_CORPUS_REPLY and body["citations"][0]["number"] == 1


def test_ask_returns_a_refusal_that_does_not_look_like_an_answer(
    client_for: Callable[..., TestClient],
) -> None:
    body = client_for().post("/v1/ask", json={"question": OFF_TOPIC}).json()
    assert body["kind"] == "refusal" and body["reason"] == "no_evidence"
    assert body["message"] and "text" not in body and "citations" not in body
    assert "short_answer" not in body
    assert body["label"] == "Not in the documents"


def test_feedback_is_stored_and_an_unknown_id_is_404(
    client_for: Callable[..., TestClient], audit: AuditStore
) -> None:
    client = client_for(IN_CORPUS_REPLY)
    interaction = client.post("/v1/ask", json={"question": IN_CORPUS}).json()["interaction_id"]
    ok = client.post(
        "/v1/feedback", json={"interaction_id": interaction, "helpful": True, "comment": "good"}
    )
    assert ok.status_code == 200 and ok.json() == {"status": "recorded"}
    assert [(f.helpful, f.comment) for f in audit.feedback()] == [(True, "good")]
    missing = client.post("/v1/feedback", json={"interaction_id": "nope", "helpful": False})
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_interaction"


@pytest.mark.parametrize(
    "payload",
    [{}, {"question": ""}, {"question": 3}, {"question": "hi", "extra": 1}, "not json"],
)
def test_malformed_input_is_422(client_for: Callable[..., TestClient], payload: object) -> None:
    client = client_for()
    if isinstance(payload, str):
        response = client.post(
            "/v1/ask", content=payload, headers={"content-type": "application/json"}
        )
    else:
        response = client.post("/v1/ask", json=payload)
    assert response.status_code == 422
    bad_feedback = client.post("/v1/feedback", json={"interaction_id": "x", "helpful": "maybe"})
    assert bad_feedback.status_code == 422


def test_llm_failure_is_503_with_a_message_and_no_traceback(
    client_for: Callable[..., TestClient], audit: AuditStore
) -> None:
    response = client_for(GeneratorTimeoutError("the LLM server took longer than 120 s")).post(
        "/v1/ask", json={"question": IN_CORPUS}
    )
    assert response.status_code == 503
    assert response.json() == {
        "error": "llm_unavailable",
        "message": "the LLM server took longer than 120 s",
    }
    assert "Traceback" not in response.text
    assert list(audit.interactions()) == []


def test_a_reranker_failure_is_reported_like_an_embedder_failure(
    client_for: Callable[..., TestClient], audit: AuditStore
) -> None:
    embedder = client_for(IN_CORPUS_REPLY, embedder=FailingEmbedder()).post(
        "/v1/ask", json={"question": IN_CORPUS}
    )
    reranker = client_for(IN_CORPUS_REPLY, reranker=FailingReranker()).post(
        "/v1/ask", json={"question": IN_CORPUS}
    )
    assert embedder.status_code == reranker.status_code == 500
    assert embedder.json() == {"error": "internal", "message": str(EMBEDDER_FAILURE)}
    assert reranker.json() == {"error": "internal", "message": str(RERANKER_FAILURE)}
    assert "Traceback" not in reranker.text
    assert list(audit.interactions()) == []


def test_health_index_status_and_openapi(client_for: Callable[..., TestClient]) -> None:
    client = client_for()
    assert client.get("/health").json() == {"status": "ok", "llm": {"state": "ready"}}
    status = client.get("/v1/index/status").json()
    assert status["documents"] == 3 and status["chunks"] == 40
    assert status["last_ingested_at"].startswith("2025-01-01")
    spec = client.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/feedback", "/health", "/v1/index/status"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"AnswerOut", "RefusalOut", "AskRequest"} <= set(schemas)
    assert "short_answer" in schemas["AnswerOut"]["properties"]
    assert "short_answer" not in schemas["RefusalOut"]["properties"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_api(make_assistant: Callable[..., Assistant]) -> Iterator[str]:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app_for(make_assistant(IN_CORPUS_REPLY)), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.real
def test_uvicorn_serves_the_api_over_http(live_api: str, audit: AuditStore) -> None:
    with httpx.Client(base_url=live_api, timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok", "llm": {"state": "ready"}}
        body = http.post("/v1/ask", json={"question": IN_CORPUS}).json()
        assert body["kind"] == "answer" and body["citations"][0]["number"] == 1
        refused = http.post("/v1/ask", json={"question": OFF_TOPIC}).json()
        assert refused["kind"] == "refusal"
        assert http.post("/v1/ask", json={"nope": 1}).status_code == 422
    assert len(list(audit.interactions())) == 2


def test_the_rewritten_follow_up_comes_back_without_markup(
    client_for: Callable[..., TestClient],
) -> None:
    # The rewrite of a follow-up is the model's text: a model fooled into
    # writing markup must not hand it to an API client that renders HTML.
    client = client_for(
        IN_CORPUS_REPLY,
        "When was the <b>GenA.I. Sandbox</b> <script>alert(1)</script>launched?",
        IN_CORPUS_REPLY,
    )
    first = client.post("/v1/ask", json={"question": IN_CORPUS, "conversation_id": "c1"})
    assert first.status_code == 200
    again = client.post("/v1/ask", json={"question": "And when was that?", "conversation_id": "c1"})
    body = again.json()
    assert again.status_code == 200, body
    assert body["standalone_question"] is not None
    assert "GenA.I. Sandbox" in body["standalone_question"]
    assert "<" not in body["standalone_question"] and "script" not in body["standalone_question"]
