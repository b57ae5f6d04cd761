"""``OpenAIChatGenerator.complete_json`` against a tiny local server on
127.0.0.1 that records the request and answers with a fixed completion."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chatbot.adapters.openai_generator import OpenAIChatGenerator, compact_json_pattern
from chatbot.answer.judge import SCHEMA
from chatbot.errors import GeneratorOutputError, GeneratorUnavailableError
from chatbot.protocols import ChatMessage

MESSAGES = [ChatMessage("user", "judge this")]


class Server:
    """Replies to every POST with ``status`` and a completion holding ``text``."""

    def __init__(self) -> None:
        self.text = ""
        self.finish_reason = "stop"
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append(json.loads(self.rfile.read(length)))
                body = {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "m",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": server.text},
                            "finish_reason": server.finish_reason,
                        }
                    ],
                }
                if server.status != 200:
                    body = {"error": {"message": "overloaded"}}
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.http.shutdown()
    s.http.server_close()


def complete(server: Server, schema: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    generator = OpenAIChatGenerator(server.url, "k", model="m", seed=7)
    return generator.complete_json(MESSAGES, schema, name="probe", max_tokens=33)


def test_flat_schema_is_sent_as_a_compact_json_regex(server: Server) -> None:
    server.text = '{"answer":"August 2024","supported":true}'
    assert complete(server) == {"answer": "August 2024", "supported": True}
    request = server.requests[0]
    assert request["temperature"] == 0.0 and request["seed"] == 7
    assert request["max_tokens"] == 33 and not request.get("stream")
    assert "response_format" not in request
    pattern = request["structured_outputs"]["regex"]
    assert pattern == compact_json_pattern(SCHEMA)


def test_other_schemas_go_as_response_format_json_schema(server: Server) -> None:
    nested = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"type": "string"}}},
        "required": ["items"],
    }
    server.text = '{"items": ["a"]}'
    assert complete(server, nested) == {"items": ["a"]}
    request = server.requests[0]
    assert "structured_outputs" not in request
    assert request["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "probe", "schema": nested, "strict": True},
    }


def test_compact_pattern_allows_no_free_whitespace_and_bounds_strings() -> None:
    pattern = compact_json_pattern(SCHEMA)
    assert pattern is not None
    ok = json.dumps({"answer": 'a "b" 中文', "supported": False}, ensure_ascii=False)
    assert re.fullmatch(pattern, ok.replace(", ", ",").replace(": ", ":"))
    assert not re.fullmatch(pattern, '{ "answer":"a","supported":true}')
    assert not re.fullmatch(pattern, '{\n\n"answer":"a","supported":true}')
    assert not re.fullmatch(pattern, '{"answer":"' + "x" * 121 + '","supported":true}')
    assert not re.fullmatch(pattern, '{"supported":true,"answer":"a"}')  # schema order


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": []},
        {"type": "object", "properties": {"a": {"type": "object"}}, "required": ["a"]},
        {"type": "array", "items": {"type": "string"}},
    ],
)
def test_non_flat_or_optional_schemas_have_no_pattern(schema: dict[str, Any]) -> None:
    assert compact_json_pattern(schema) is None


def test_enum_and_integer_patterns() -> None:
    schema = {
        "type": "object",
        "properties": {"verdict": {"enum": ["yes", "no"]}, "n": {"type": "integer"}},
        "required": ["verdict", "n"],
    }
    pattern = compact_json_pattern(schema)
    assert pattern is not None
    assert re.fullmatch(pattern, '{"verdict":"no","n":-12}')
    assert not re.fullmatch(pattern, '{"verdict":"maybe","n":1}')


@pytest.mark.parametrize(
    ("text", "finish"), [("{\n\n\n\n\n", "length"), ('{"answer":"Aug', "length"), ("[1]", "stop")]
)
def test_reply_that_is_not_a_json_object_is_an_output_error(
    server: Server, text: str, finish: str
) -> None:
    server.text, server.finish_reason = text, finish
    with pytest.raises(GeneratorOutputError, match="probe"):
        complete(server)


def test_error_status_is_unavailable(server: Server) -> None:
    server.status = 503
    with pytest.raises(GeneratorUnavailableError, match="HTTP 503"):
        complete(server)


@pytest.mark.parametrize(
    ("kind", "constraint"),
    [("vllm", "structured_outputs"), ("llama.cpp", "response_format")],
)
def test_remote_server_kind_decides_how_the_judge_asks_for_json(
    server: Server, monkeypatch: pytest.MonkeyPatch, kind: str, constraint: str
) -> None:
    from chatbot.compose import build_generator
    from chatbot.settings import Settings

    monkeypatch.setenv("CHATBOT_LLM__MODE", "remote")
    monkeypatch.setenv("CHATBOT_LLM__BASE_URL", server.url)
    monkeypatch.setenv("CHATBOT_LLM__MODEL", "m")
    monkeypatch.setenv("CHATBOT_LLM__SERVER", kind)
    generator = build_generator(Settings(_env_file=None))  # type: ignore[call-arg]
    server.text = '{"answer":"August 2024","supported":true}'
    assert generator.complete_json(MESSAGES, SCHEMA, name="probe", max_tokens=33) == {
        "answer": "August 2024",
        "supported": True,
    }
    request = server.requests[0]
    assert constraint in request
    if kind == "llama.cpp":
        # A grammar from the schema itself, not vLLM's regex extension.
        assert request["response_format"] == {"type": "json_object", "schema": SCHEMA}
        assert "structured_outputs" not in request
