"""A dead, hung, slow or garbling LLM server, behind the real OpenAI client,
the real pipeline on fake indexes, the real audit store and the real JSON
API and chat turn: the person asking gets one clear sentence within the
timeout, the failure is in the audit trail's ``failures`` table, and the
app keeps answering (gate refusals at once, answers when the server is
back). The server is ``tests.misbehaving_llm``, a real HTTP server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from chatbot.adapters.openai_generator import OpenAIChatGenerator
from chatbot.assistant import Assistant
from chatbot.audit import AuditStore
from chatbot.channels.api import create_app
from chatbot.channels.gradio_ui import chat_turn
from tests.builders import (
    IN_CORPUS,
    IN_CORPUS_REPLY,
    LOOPBACK,
    OFF_TOPIC,
    STATUS,
    TEXTS,
    asker,
    local_access,
    pipeline_over,
)
from tests.misbehaving_llm import MisbehavingLLM

TIMEOUT_S = 2.0
# Far below a hang, far above the timeout: the test asks "did it hang?", not
# "how fast was it".
BOUND_S = TIMEOUT_S + 6.0

# mode -> (the audit's kind, a phrase of the sentence the person sees)
FAULTS = {
    "die": ("llm_unavailable", "not answering right now"),
    "hang": ("llm_timeout", "did not answer in time"),
    "stall": ("llm_timeout", "did not answer in time"),
    "dribble": ("llm_timeout", "did not answer in time"),
    "garbage": ("llm_output", "could not be used"),
    "html": ("llm_unavailable", "not answering right now"),
}


@pytest.fixture
def server() -> Iterator[MisbehavingLLM]:
    llm = MisbehavingLLM(reply=IN_CORPUS_REPLY, dribble_s=0.3)
    yield llm
    llm.close()


def assistant_on(server: MisbehavingLLM, audit: AuditStore) -> Assistant:
    client = OpenAIChatGenerator(
        server.base_url, "EMPTY", "misbehaving", timeout_s=TIMEOUT_S, connect_timeout_s=1.0
    )
    return Assistant(pipeline_over(TEXTS, client), audit)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", sorted(FAULTS))
def test_the_api_says_one_sentence_in_time_and_audits_the_failure(
    server: MisbehavingLLM, audit: AuditStore, mode: str
) -> None:
    kind, _ = FAULTS[mode]
    api = TestClient(
        create_app(assistant_on(server, audit), lambda _: STATUS, access=local_access()),
        client=LOOPBACK,
    )
    server.mode = mode
    started = time.monotonic()
    response = api.post("/v1/ask", json={"question": IN_CORPUS})
    took = time.monotonic() - started
    assert took < BOUND_S, f"{mode}: the request took {took:.1f}s"
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "llm_unavailable" and body["message"]
    assert "\n" not in body["message"] and "Traceback" not in body["message"]
    (failure,) = audit.failures()
    assert failure.kind == kind and failure.channel == "api"
    assert failure.question == IN_CORPUS and failure.user_id == "local"
    assert 0 < failure.wall_s < BOUND_S
    assert list(audit.interactions()) == []

    # The app is not stuck: a gate refusal is answered at once, and once the
    # server behaves the same question is answered.
    refused = api.post("/v1/ask", json={"question": OFF_TOPIC})
    assert refused.status_code == 200 and refused.json()["kind"] == "refusal"
    server.mode = "ok"
    answered = api.post("/v1/ask", json={"question": IN_CORPUS})
    assert answered.status_code == 200 and answered.json()["kind"] == "answer"
    assert len(list(audit.interactions())) == 2 and len(audit.failures()) == 1


@pytest.mark.parametrize("mode", sorted(FAULTS))
def test_the_web_chat_shows_one_plain_sentence(
    server: MisbehavingLLM, audit: AuditStore, mode: str
) -> None:
    _, phrase = FAULTS[mode]
    server.mode = mode
    started = time.monotonic()
    turns = list(chat_turn(assistant_on(server, audit), IN_CORPUS, [], principal=asker()))
    assert time.monotonic() - started < BOUND_S
    last = turns[-1].history[-1]["content"]
    assert phrase in last, last
    # no server address, exception name or setting in what bank staff see
    for technical in ("127.0.0.1", "Error", "CHATBOT_", "Traceback"):
        assert technical not in last
    (failure,) = audit.failures()
    assert failure.channel == "web" and failure.kind == FAULTS[mode][0]
    assert server.base_url.removesuffix("/v1") in failure.message  # the operator's detail


def test_the_failures_export_lists_them_for_auditors(
    server: MisbehavingLLM, audit: AuditStore
) -> None:
    api = TestClient(
        create_app(assistant_on(server, audit), lambda _: STATUS, access=local_access()),
        client=LOOPBACK,
    )
    server.mode = "die"
    assert api.post("/v1/ask", json={"question": IN_CORPUS}).status_code == 503
    export = api.get("/v1/audit/export", params={"table": "failures"})
    assert export.status_code == 200
    (row,) = [line for line in export.text.splitlines() if line]
    assert '"kind": "llm_unavailable"' in row and IN_CORPUS in row
