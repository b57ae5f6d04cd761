"""The OpenAI-compatible client against tiny local HTTP servers on 127.0.0.1.

Each server speaks just enough of /v1/chat/completions (server-sent events)
to exercise one behaviour: a good stream, garbage, an error status, a hang,
and no server at all.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chatbot.adapters.openai_generator import OpenAIChatGenerator
from chatbot.errors import (
    ConfigurationError,
    GeneratorOutputError,
    GeneratorTimeoutError,
    GeneratorUnavailableError,
)
from chatbot.protocols import ChatMessage

Behaviour = Callable[[BaseHTTPRequestHandler], None]
MESSAGES = [ChatMessage("user", "hello")]


def sse(handler: BaseHTTPRequestHandler, pieces: list[str]) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    for piece in pieces:
        chunk = {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
    handler.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(behaviour: Behaviour) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                behaviour(self)

            def do_GET(self) -> None:
                body = json.dumps(
                    {
                        "object": "list",
                        "data": [
                            {"id": "served-model", "object": "model", "created": 0, "owned_by": "t"}
                        ],
                    }
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_streams_deltas_and_discovers_model(serve) -> None:  # type: ignore[no-untyped-def]
    url = serve(lambda h: sse(h, ["The answer ", "is here [1]."]))
    generator = OpenAIChatGenerator(url, "key")
    assert list(generator.stream(MESSAGES)) == ["The answer ", "is here [1]."]
    assert generator.model_name == "served-model"


def test_dead_server_is_unavailable_with_a_hint() -> None:
    generator = OpenAIChatGenerator(
        f"http://127.0.0.1:{free_port()}/v1", "k", model="m", connect_timeout_s=1
    )
    with pytest.raises(GeneratorUnavailableError, match="CHATBOT_LLM__BASE_URL"):
        list(generator.stream(MESSAGES))


def test_server_error_status_is_unavailable(serve) -> None:  # type: ignore[no-untyped-def]
    def fail(h: BaseHTTPRequestHandler) -> None:
        h.send_response(503)
        h.send_header("Content-Type", "application/json")
        h.end_headers()
        h.wfile.write(b'{"error": {"message": "overloaded"}}')

    with pytest.raises(GeneratorUnavailableError, match="HTTP 503"):
        list(OpenAIChatGenerator(serve(fail), "k", model="m").stream(MESSAGES))


def test_garbage_reply_is_an_output_error(serve) -> None:  # type: ignore[no-untyped-def]
    def garbage(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        h.wfile.write(b"data: {not json at all\n\n")

    with pytest.raises(GeneratorOutputError, match="malformed"):
        list(OpenAIChatGenerator(serve(garbage), "k", model="m").stream(MESSAGES))


def test_empty_completion_is_an_output_error(serve) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GeneratorOutputError, match="no text"):
        list(OpenAIChatGenerator(serve(lambda h: sse(h, [])), "k", model="m").stream(MESSAGES))


def test_slow_server_times_out(serve) -> None:  # type: ignore[no-untyped-def]
    def hang(h: BaseHTTPRequestHandler) -> None:
        time.sleep(3)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sse(h, ["late"])  # the client has given up by now

    generator = OpenAIChatGenerator(serve(hang), "k", model="m", timeout_s=0.5)
    with pytest.raises(GeneratorTimeoutError, match="CHATBOT_LLM__TIMEOUT_S"):
        list(generator.stream(MESSAGES))


def test_missing_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="CHATBOT_LLM__BASE_URL"):
        OpenAIChatGenerator("", "k")
