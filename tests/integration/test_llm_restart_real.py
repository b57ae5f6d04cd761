"""The real embedded vLLM server killed in the middle of an answer: the
question ends at once with a fault (one sentence for the person, a row in
the audit's failures), the next question is told the model is restarting
instead of hanging, the supervisor brings the server back, and questions
are answered again. Uses the session's supervised server (``conftest``);
a server this session did not start (adopted from ``make run``) is not
ours to kill, so the test skips then."""

from __future__ import annotations

import os
import signal
import time

import pytest

from chatbot.adapters.openai_generator import OpenAIChatGenerator
from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.answer.steps import Draft
from chatbot.assistant import Assistant
from chatbot.channels.render import render_error
from chatbot.domain import Answer, Refusal
from chatbot.errors import GeneratorError, GeneratorStartingError, GeneratorUnavailableError
from chatbot.llm.readiness import readiness_wrapped
from chatbot.llm.server import SERVED_NAME, EmbeddedServer
from tests.builders import IN_CORPUS, TEXTS, asker, pipeline_over

pytestmark = [pytest.mark.llm, pytest.mark.slow]


def test_killed_mid_answer_it_fails_cleanly_is_restarted_and_answers_again(
    embedded_server: EmbeddedServer, embedded_llm: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    if embedded_server.adopted or embedded_server.process is None:
        pytest.skip("the LLM server was adopted (started elsewhere): not ours to kill")
    audit = SqliteAuditStore(tmp_path / "audit.sqlite3")
    client = OpenAIChatGenerator(embedded_llm, "EMPTY", timeout_s=60.0)
    generator = readiness_wrapped(client, embedded_server.status, SERVED_NAME)
    assistant = Assistant(pipeline_over(TEXTS, generator), audit)  # type: ignore[arg-type]
    victim = embedded_server.process.pid

    started = time.monotonic()
    events = assistant.stream(IN_CORPUS, channel="api", principal=asker())
    with pytest.raises(GeneratorError) as raised:
        for event in events:
            process = embedded_server.process
            if isinstance(event, Draft) and process is not None and process.pid == victim:
                os.kill(victim, signal.SIGKILL)  # the API server, mid-stream
    failed_after = time.monotonic() - started
    assert isinstance(raised.value, GeneratorUnavailableError)
    assert failed_after < 30, f"the broken stream took {failed_after:.0f}s to end"
    assert "not answering right now" in render_error(raised.value)
    (failure,) = audit.failures()
    assert failure.kind == "llm_unavailable" and failure.question == IN_CORPUS

    # The next question is told at once, not left hanging on a dead port.
    deadline = time.monotonic() + 15
    while embedded_server.status().ready and time.monotonic() < deadline:
        time.sleep(0.2)
    asked = time.monotonic()
    with pytest.raises(GeneratorUnavailableError) as down:
        assistant.ask(IN_CORPUS, channel="api", principal=asker())
    assert time.monotonic() - asked < 5
    assert isinstance(down.value, GeneratorStartingError) or "exited" in str(down.value)

    # The supervisor restarts it; then questions are answered again.
    deadline = time.monotonic() + embedded_server.startup_timeout_s + 30
    while not embedded_server.status().ready and time.monotonic() < deadline:
        time.sleep(1.0)
    assert embedded_server.status().ready, embedded_server.status()
    assert embedded_server.restarts >= 1
    assert embedded_server.process is not None and embedded_server.process.pid != victim
    recorded = assistant.ask(IN_CORPUS, channel="api", principal=asker())
    assert isinstance(recorded.outcome, Answer | Refusal)
    assert len(list(audit.interactions())) == 1 and len(audit.failures()) == 2
