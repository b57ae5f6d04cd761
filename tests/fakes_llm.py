"""A scripted generator for unit tests: replies from a list, records calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from chatbot.errors import GeneratorError
from chatbot.protocols import ChatMessage


class ScriptedGenerator:
    """Implements ``Generator``. Each call pops the next reply; a reply may be a
    string (streamed in small pieces), a callable taking the messages, or a
    ``GeneratorError`` instance to raise."""

    def __init__(self, *replies: str | GeneratorError | Callable[[Sequence[ChatMessage]], str]):
        self.replies = list(replies)
        self.calls: list[list[ChatMessage]] = []

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
