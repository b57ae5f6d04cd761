"""A scripted generator for unit tests: replies from a list, records calls."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from chatbot.errors import GeneratorError, GeneratorOutputError
from chatbot.protocols import ChatMessage

JsonReply = (
    dict[str, Any] | str | GeneratorError | Callable[[Sequence[ChatMessage]], dict[str, Any]]
)


class ScriptedGenerator:
    """Implements ``Generator`` and ``JsonGenerator``. Each call pops the next
    reply; a reply may be a string (streamed in small pieces), a callable
    taking the messages, or a ``GeneratorError`` instance to raise.

    ``complete_json`` pops from its own queue, ``json_replies``: a dict is
    returned as is, a string is parsed as the server's raw text (text that is
    not a JSON object raises ``GeneratorOutputError``, as the adapter does), a
    callable gets the messages, an error is raised."""

    def __init__(
        self,
        *replies: str | GeneratorError | Callable[[Sequence[ChatMessage]], str],
        json_replies: Iterable[JsonReply] = (),
    ):
        self.replies = list(replies)
        self.calls: list[list[ChatMessage]] = []
        self.json_replies = list(json_replies)
        self.json_calls: list[tuple[list[ChatMessage], dict[str, Any], str]] = []

    @property
    def model_name(self) -> str:
        return "scripted"

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        self.calls.append(list(messages))
        if not self.replies:
            raise AssertionError("ScriptedGenerator called more often than scripted")
        reply = self.replies.pop(0)
        if isinstance(reply, GeneratorError):
            raise reply
        text = reply(messages) if callable(reply) else reply
        for start in range(0, len(text), 7):
            yield text[start : start + 7]

    def complete_json(
        self,
        messages: Sequence[ChatMessage],
        schema: dict[str, Any],
        *,
        name: str,
        max_tokens: int,
    ) -> dict[str, Any]:
        self.json_calls.append((list(messages), schema, name))
        if not self.json_replies:
            raise AssertionError("ScriptedGenerator.complete_json called more often than scripted")
        reply = self.json_replies.pop(0)
        if isinstance(reply, GeneratorError):
            raise reply
        if callable(reply):
            return reply(messages)
        if isinstance(reply, dict):
            return reply
        try:
            value = json.loads(reply)
        except json.JSONDecodeError as exc:
            raise GeneratorOutputError(f"scripted reply is not JSON: {reply[:80]!r}") from exc
        if not isinstance(value, dict):
            raise GeneratorOutputError(f"scripted reply is not a JSON object: {reply[:80]!r}")
        return value
