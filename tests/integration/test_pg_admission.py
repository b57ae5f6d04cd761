"""The LLM's places shared by replicas (``chatbot.adapters.pg_admission``)
against a real PostgreSQL: two instances count one set of places, another
group does not, a SIGKILLed replica's places come back at once, a broken
connection is replaced, an unreachable server falls back to local places,
and the composition and /health show it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import PoolTimeout

from chatbot.adapters.pg_admission import SharedAdmission, group_key
from chatbot.assistant import Assistant
from chatbot.channels.api import create_app
from chatbot.compose import build_admission
from chatbot.errors import BoundaryError, BusyError, ConfigurationError
from chatbot.settings import Settings
from tests.builders import (
    IN_CORPUS,
    IN_CORPUS_REPLY,
    LOOPBACK,
    STATUS,
    TEXTS,
    local_access,
    pipeline_over,
)
from tests.fakes_llm import ScriptedGenerator

pytestmark = [pytest.mark.real, pytest.mark.postgres]

REPO_ROOT = Path(__file__).resolve().parents[2]

# A replica that takes every shared place of its group and then hangs.
HOLDER = r"""
import sys, time
from contextlib import ExitStack
from chatbot.adapters.pg_admission import SharedAdmission
url, group, slots = sys.argv[1], sys.argv[2], int(sys.argv[3])
admission = SharedAdmission(url, slots=slots, queue=0, wait_s=5, group=group)
with ExitStack() as held:
    for _ in range(slots):
        held.enter_context(admission.place())
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def group() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def replicas(postgres_url: str, group: str) -> Iterator[list[SharedAdmission]]:
    made = [
        SharedAdmission(postgres_url, slots=2, queue=2, wait_s=1.0, group=group, poll_s=0.05)
        for _ in range(2)
    ]
    yield made
    for admission in made:
        admission.close()


def test_two_replicas_share_one_set_of_places(replicas: list[SharedAdmission]) -> None:
    first, second = replicas
    with first.place(), second.place():
        assert first.state().shared_in_use == 2
        assert first.state().in_use == 1  # this process's own count stays its own
        started = time.monotonic()
        with pytest.raises(BusyError) as caught, second.place():
            pass
        waited = time.monotonic() - started
    assert 0.8 <= waited <= 3.0, waited  # it waited out wait_s, then said busy
    assert "shared by the replicas" in str(caught.value)
    assert caught.value.retry_after_s >= 1
    assert second.state().turned_away == 1
    assert second.state().shared_in_use == 0
    with first.place(), first.place():  # both free again
        assert second.state().shared_in_use == 2


def test_a_waiting_question_gets_the_place_a_replica_gives_back(
    replicas: list[SharedAdmission],
) -> None:
    first, second = replicas
    got: list[float] = []
    stack = ExitStack()
    stack.enter_context(first.place())
    stack.enter_context(first.place())

    def ask() -> None:
        started = time.monotonic()
        with second.place():
            got.append(time.monotonic() - started)

    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(0.3)
    stack.close()
    thread.join(5)
    assert len(got) == 1 and 0.25 <= got[0] < 1.0, got


def test_another_group_has_places_of_its_own(
    postgres_url: str, replicas: list[SharedAdmission]
) -> None:
    other = SharedAdmission(postgres_url, slots=1, queue=0, wait_s=0.2, group="another-llm")
    try:
        with replicas[0].place(), replicas[1].place(), other.place():
            assert other.state().shared_in_use == 1
    finally:
        other.close()
    assert group_key("a") != group_key("b") and 0 < group_key("a") < 2**31


def test_a_killed_replica_gives_its_places_back_at_once(
    postgres_url: str, replicas: list[SharedAdmission], group: str
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, postgres_url, group, "2"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert replicas[0].state().shared_in_use == 2
        with pytest.raises(BusyError), replicas[0].place():
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        started = time.monotonic()
        with replicas[0].place(), replicas[1].place():
            assert replicas[0].state().shared_in_use == 2
        assert time.monotonic() - started < 2.0
    finally:
        holder.kill()
        holder.wait(10)


def test_a_connection_cut_by_the_server_is_replaced(
    postgres_url: str, replicas: list[SharedAdmission], group: str
) -> None:
    first = replicas[0]
    with first.place():
        pass
    # an administrator (or a failover) ends every session of the pool
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        cut = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (f"boundary-admission:{group}",),
        ).fetchone()
    assert cut is not None and cut[0] >= 1
    with first.place():
        assert first.state().shared_in_use == 1
    assert first.state().shared_problem is None


def test_an_unreachable_server_falls_back_to_this_processes_places(
    replicas: list[SharedAdmission], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = replicas[0]

    def down(timeout: float | None = None) -> object:
        raise PoolTimeout("couldn't get a connection after 1.00 sec")

    monkeypatch.setattr(first._pool, "getconn", down)
    monkeypatch.setattr(first._pool, "connection", lambda timeout=None: down())
    with first.place(), first.place():  # local places still bound the process
        state = first.state()
        assert state.in_use == 2 and state.shared_in_use == -1
        assert "couldn't get a connection" in (state.shared_problem or "")
        with pytest.raises(BusyError), first.place(), first.place():
            pass


def test_composition_and_health_show_the_shared_places(postgres_url: str, group: str) -> None:
    settings = Settings(
        _env_file=None,
        llm={"mode": "remote", "admission": "postgres", "admission_group": group},
        index={"postgres_url": postgres_url},
    )
    admission = build_admission(settings)
    assert isinstance(admission, SharedAdmission) and admission.slots == 8
    try:
        pipeline = pipeline_over(TEXTS, ScriptedGenerator(IN_CORPUS_REPLY), admission=admission)
        api = TestClient(
            create_app(Assistant(pipeline, None), lambda _: STATUS, access=local_access()),
            client=LOOPBACK,
        )
        assert api.post("/v1/ask", json={"question": IN_CORPUS}).status_code == 200
        queue = api.get("/health").json()["llm_queue"]
        assert queue["scope"] == f"postgres:{group}"
        assert queue["shared_in_use"] == 0 and queue["admitted"] == 1
    finally:
        admission.close()


def test_a_wrong_url_or_a_missing_one_says_what_to_set(postgres_url: str) -> None:
    with pytest.raises(ConfigurationError, match="CHATBOT_LLM__ADMISSION_POSTGRES_URL"):
        build_admission(Settings(_env_file=None, llm={"mode": "remote", "admission": "postgres"}))
    with pytest.raises(ConfigurationError, match="not a PostgreSQL URL"):
        SharedAdmission("postgresql://x:y@/db?bogus=1", slots=1, queue=0, wait_s=1)
    closed = postgres_url.rsplit(":", 1)[0] + ":1/postgres"
    with pytest.raises(BoundaryError, match="CHATBOT_LLM__ADMISSION=process"):
        SharedAdmission(closed, slots=1, queue=0, wait_s=1, connect_timeout_s=1)
