"""A generator wrapper that counts LLM calls (answer streams and JSON calls).

Benchmarks and the real answering tests use it to report "LLM calls per
answer"; it changes nothing about the calls themselves."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from chatbot.protocols import ChatMessage, Generator, JsonGenerator


class CountingGenerator:
    """Passes through to ``inner``; ``calls`` counts streams, ``json_calls``
    the JSON calls (the support judge), ``total`` both."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.calls = 0
        self.json_calls = 0

    @property
    def total(self) -> int:
        return self.calls + self.json_calls

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        self.calls += 1
        yield from self.inner.stream(messages)

    def complete_json(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any], *, name: str, max_tokens: int
    ) -> dict[str, Any]:
        if not isinstance(self.inner, JsonGenerator):
            raise TypeError("the wrapped generator makes no JSON calls")
        self.json_calls += 1
        return self.inner.complete_json(messages, schema, name=name, max_tokens=max_tokens)
