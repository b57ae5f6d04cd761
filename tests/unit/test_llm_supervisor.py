"""The embedded server's supervisor (``EmbeddedServer.supervise``) on a real
child process that plays the server: a few lines of Python answering
/health on the port. Killed, it is restarted; stopped (SIGSTOP, a hang), it
is taken as hung, killed and restarted; past ``max_restarts`` an hour it is
left down, and ``status()`` says so with the reason."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatbot.llm.cpu import parse_cpuinfo
from chatbot.llm.server import EmbeddedServer
from chatbot.llm.status import LLMState
from chatbot.settings import EmbeddedLLMSettings
from tests.servers import free_port

PLAYS_A_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"""


class PlayedServer(EmbeddedServer):
    """An ``EmbeddedServer`` whose process is the script above, not vLLM."""

    def model_dir(self) -> Path:
        return self.settings.cache_dir

    def command(self, model_dir: Path) -> list[str]:
        return [sys.executable, "-c", PLAYS_A_SERVER, str(self.settings.port)]


def wait_for(condition: Callable[[], bool], within_s: float = 15.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., PlayedServer]]:
    made: list[PlayedServer] = []

    def make(max_restarts: int = 3) -> PlayedServer:
        settings = EmbeddedLLMSettings(
            port=free_port(),
            cache_dir=tmp_path,
            log_file=tmp_path / "server.log",
            startup_timeout_s=20,
            max_restarts=max_restarts,
            hang_after_s=1.0,
        )
        server = PlayedServer(settings, cpu=parse_cpuinfo("flags: avx2"))
        made.append(server)
        server.start()
        server.supervise(interval_s=0.1)
        return server

    yield make
    for server in made:
        server.stop(grace_s=2)


def pid_of(server: EmbeddedServer) -> int:
    assert server.process is not None
    return server.process.pid


def test_a_killed_server_is_restarted_and_says_so_meanwhile(
    make_server: Callable[..., PlayedServer],
) -> None:
    server = make_server()
    first = pid_of(server)
    assert server.status().ready
    seen: set[str] = set()
    os.kill(first, signal.SIGKILL)

    def back() -> bool:
        status = server.status()
        seen.add(status.reason)
        return status.ready and server.process is not None and server.process.pid != first

    assert wait_for(back)
    assert server.restarts == 1
    # meanwhile the page and /health said what happened: down, then restarting
    assert all("the LLM server exited with code -9" in reason for reason in seen - {""})


def test_a_hung_server_is_killed_and_restarted(make_server: Callable[..., PlayedServer]) -> None:
    server = make_server()
    first = pid_of(server)
    os.kill(first, signal.SIGSTOP)  # still there, answers nothing
    assert wait_for(lambda: server.process is not None and server.process.pid != first)
    assert wait_for(lambda: server.status().ready)
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)  # the hung one is gone, not left stopped


def test_past_the_limit_it_is_left_down_with_the_reason(
    make_server: Callable[..., PlayedServer],
) -> None:
    server = make_server(max_restarts=1)
    os.kill(pid_of(server), signal.SIGKILL)
    assert wait_for(lambda: server.restarts == 1 and server.status().ready)
    os.kill(pid_of(server), signal.SIGKILL)
    assert wait_for(lambda: "left down" in server.status().reason)
    assert server.status().state is LLMState.UNAVAILABLE
    reason = server.status().reason
    assert "exited with code -9" in reason and "left down" in reason
    assert "CHATBOT_EMBEDDED__MAX_RESTARTS=1" in reason


def test_never_restarted_when_restarts_are_off(make_server: Callable[..., PlayedServer]) -> None:
    server = make_server(max_restarts=0)
    os.kill(pid_of(server), signal.SIGKILL)
    assert wait_for(lambda: "left down" in server.status().reason)
    assert server.status().state is LLMState.UNAVAILABLE and server.restarts == 0
