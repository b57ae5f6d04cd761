"""Back-pressure in front of the LLM (``chatbot.admission``): places, the
waiting line, "busy" with a retry time, and what the pipeline, the API and
the audit make of it. Threads and a real condition variable; no sleeps
longer than a fraction of a second."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.admission import Admission
from chatbot.assistant import Assistant
from chatbot.audit import AuditStore
from chatbot.channels.api import create_app
from chatbot.channels.render import render_error
from chatbot.domain import Refusal
from chatbot.errors import BusyError
from tests.builders import (
    IN_CORPUS,
    IN_CORPUS_REPLY,
    LOOPBACK,
    OFF_TOPIC,
    STATUS,
    TEXTS,
    local_access,
    pipeline_over,
)
from tests.fakes_llm import ScriptedGenerator


@pytest.fixture
def audit(tmp_path) -> AuditStore:  # type: ignore[no-untyped-def]
    return SqliteAuditStore(tmp_path / "audit.sqlite3")


def hold(admission: Admission, count: int) -> ExitStack:
    stack = ExitStack()
    for _ in range(count):
        stack.enter_context(admission.place())
    return stack


def test_places_are_given_up_to_the_limit_then_the_line_fills_then_busy() -> None:
    admission = Admission(slots=2, queue=1, wait_s=5.0, expected_s=4.0)
    with hold(admission, 2):
        assert admission.state().in_use == 2
        got_in = threading.Event()
        release = threading.Event()

        def waiter() -> None:
            with admission.place():
                got_in.set()
                release.wait(5)

        thread = threading.Thread(target=waiter)
        thread.start()
        while admission.state().waiting == 0:
            threading.Event().wait(0.01)
        # the line (1) is full: the next one is told at once, with a retry time
        with pytest.raises(BusyError) as busy, admission.place():
            pass
        # two ahead (the waiter and this one) over two places, 4 s each
        assert busy.value.retry_after_s == 4
        assert "try again in about 4 s" in str(busy.value)
        assert admission.state().turned_away == 1
    # the places were freed: the waiter got one
    assert got_in.wait(5)
    release.set()
    thread.join(5)
    state = admission.state()
    assert state.in_use == 0 and state.waiting == 0 and state.admitted == 3


def test_a_wait_that_runs_out_is_busy_and_leaves_the_line() -> None:
    admission = Admission(slots=1, queue=4, wait_s=0.2, expected_s=0.05)
    with (
        hold(admission, 1),
        pytest.raises(BusyError, match="no place came within"),
        admission.place(),
    ):
        pass
    assert admission.state().waiting == 0


def test_an_expected_wait_past_the_limit_is_told_at_once() -> None:
    admission = Admission(slots=1, queue=10, wait_s=5.0, expected_s=30.0)
    with hold(admission, 1), pytest.raises(BusyError, match="expected wait"), admission.place():
        pass


def test_the_expected_wait_follows_how_long_places_are_held() -> None:
    # each place reads the clock on arrival, when it starts and when it ends
    clock = iter([0.0, 0.0, 10.0, 10.0, 10.0, 30.0]).__next__
    admission = Admission(slots=1, queue=2, wait_s=60.0, expected_s=0.0, clock=clock)
    with admission.place():
        pass  # held 10 s
    assert admission.state().mean_hold_s == pytest.approx(2.0)  # 0.2 x 10
    with admission.place():
        pass  # held 20 s
    assert admission.state().mean_hold_s == pytest.approx(5.6)
    assert admission.retry_after_s() == 6


def test_a_failing_call_gives_its_place_back() -> None:
    admission = Admission(slots=1, queue=0, wait_s=1.0)
    with pytest.raises(RuntimeError), admission.place():
        raise RuntimeError("the LLM broke")
    with admission.place():
        assert admission.state().in_use == 1


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        Admission(slots=0, queue=1, wait_s=1.0)


# -- through the pipeline, the API and the audit ------------------------------


@pytest.fixture
def saturated() -> Iterator[Admission]:
    admission = Admission(slots=1, queue=0, wait_s=1.0, expected_s=12.0)
    with hold(admission, 1):
        yield admission


def test_gate_refusals_take_no_place_and_llm_questions_are_busy(saturated: Admission) -> None:
    scripted = ScriptedGenerator(IN_CORPUS_REPLY)
    pipeline = pipeline_over(TEXTS, scripted, admission=saturated)
    refused = pipeline.answer(OFF_TOPIC)
    assert isinstance(refused, Refusal) and not refused.llm_called
    with pytest.raises(BusyError) as busy:
        pipeline.answer(IN_CORPUS)
    assert busy.value.retry_after_s == 12
    assert scripted.calls == []  # never reached the model


def test_the_api_says_429_with_retry_after_and_the_audit_keeps_it(
    saturated: Admission, audit: AuditStore
) -> None:
    pipeline = pipeline_over(TEXTS, ScriptedGenerator(IN_CORPUS_REPLY), admission=saturated)
    api = TestClient(
        create_app(Assistant(pipeline, audit), lambda _: STATUS, access=local_access()),
        client=LOOPBACK,
    )
    response = api.post("/v1/ask", json={"question": IN_CORPUS})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "12"
    assert response.json()["error"] == "busy"
    health = api.get("/health").json()
    assert health["llm_queue"]["in_use"] == 1 and health["llm_queue"]["turned_away"] == 1
    (failure,) = audit.failures()
    assert failure.kind == "busy" and failure.question == IN_CORPUS


def test_busy_reads_as_one_sentence_in_both_languages() -> None:
    error = BusyError("the language model is busy", retry_after_s=7.4)
    assert render_error(error, "en") == (
        "⏳ The assistant is busy with other questions right now; please ask again in about 7 s."
    )
    assert "7 秒" in render_error(error, "zh")


def test_a_follow_up_rewrite_waits_for_a_place_too(saturated: Admission) -> None:
    from chatbot.answer.conversation import Turn

    pipeline = pipeline_over(TEXTS, ScriptedGenerator("rewritten"), admission=saturated)
    history = [Turn(IN_CORPUS, IN_CORPUS_REPLY)]
    with pytest.raises(BusyError):
        pipeline.answer("And who ran it?", history)
    # without history there is no rewrite: nothing waits, the gate decides
    assert isinstance(pipeline.answer("And who ran it?"), Refusal)


class _Closable:
    def __init__(self, log: list[str], name: str, fails: bool = False) -> None:
        self._log, self._name, self._fails = log, name, fails

    def close(self) -> None:
        self._log.append(self._name)
        if self._fails:
            raise OSError(f"{self._name} is gone")


def test_shutdown_closes_the_audit_places_and_indexes_even_when_one_fails(
    audit: AuditStore, caplog: pytest.LogCaptureFixture
) -> None:
    closed: list[str] = []
    places = _Closable(closed, "places", fails=True)
    pipeline = pipeline_over(TEXTS, ScriptedGenerator(IN_CORPUS_REPLY), admission=places)
    pipeline.keywords.close = _Closable(closed, "keywords").close  # type: ignore[attr-defined]
    pipeline.vectors.close = _Closable(closed, "vectors").close  # type: ignore[attr-defined]
    recording = _Closable(closed, "audit")
    assistant = Assistant(pipeline, recording)  # type: ignore[arg-type]
    assistant.close()
    assert closed == ["audit", "places", "keywords", "vectors"]
    assert "could not close _Closable at shutdown: places is gone" in caplog.text
