"""A generator that knows whether the embedded LLM has finished starting.

The web UI and the API are served before the embedded server is ready, so
that questions the gate refuses are answered at once. A question that needs
the model while it is still starting must get a clear sentence, not a
connection error after a hang: ``ReadinessGenerator`` asks the server's
status before each call and raises ``GeneratorStartingError`` (with about how
long it may still take) while it starts, or ``GeneratorUnavailableError``
with the start-up failure once it has failed. When ready, it is a plain pass-
through to the real client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from chatbot.errors import GeneratorStartingError, GeneratorUnavailableError
from chatbot.llm.status import LLMState, LLMStatus
from chatbot.protocols import ChatMessage, Generator, JsonGenerator


class ReadinessGenerator:
    """Wraps ``inner``; ``status`` is called before every request."""

    def __init__(
        self, inner: Generator, status: Callable[[], LLMStatus], name_while_starting: str
    ) -> None:
        self.inner = inner
        self.status = status
        self._name_while_starting = name_while_starting

    @property
    def model_name(self) -> str:
        # The real name is read from the server's /v1/models, which exists only
        # once it is up.
        return self.inner.model_name if self.status().ready else self._name_while_starting

    def _check(self) -> None:
        current = self.status()
        if current.state is LLMState.READY:
            return
        if current.state is LLMState.STARTING:
            remaining = current.remaining_s
            when = f" (about {remaining:.0f} s more)" if remaining else ""
            raise GeneratorStartingError(
                f"the language model is still starting{when}; questions the documents "
                "cannot answer are still refused at once, and this one can be asked again "
                "when it is ready",
                retry_after_s=remaining,
            )
        raise GeneratorUnavailableError(f"the language model is down: {current.reason}")

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        self._check()
        yield from self.inner.stream(messages)


class ReadinessJsonGenerator(ReadinessGenerator):
    """``ReadinessGenerator`` over a client that also makes JSON calls."""

    def __init__(
        self, inner: Generator, status: Callable[[], LLMStatus], name_while_starting: str
    ) -> None:
        if not isinstance(inner, JsonGenerator):
            raise TypeError("ReadinessJsonGenerator needs a client that makes JSON calls")
        super().__init__(inner, status, name_while_starting)
        self._json = inner

    def complete_json(
        self,
        messages: Sequence[ChatMessage],
        schema: dict[str, Any],
        *,
        name: str,
        max_tokens: int,
    ) -> dict[str, Any]:
        self._check()
        return self._json.complete_json(messages, schema, name=name, max_tokens=max_tokens)


def readiness_wrapped(
    inner: Generator, status: Callable[[], LLMStatus], name_while_starting: str
) -> ReadinessGenerator:
    """The readiness wrapper that offers JSON calls exactly when ``inner`` does
    (so the composition root's ``JsonGenerator`` check stays truthful)."""
    if isinstance(inner, JsonGenerator):
        return ReadinessJsonGenerator(inner, status, name_while_starting)
    return ReadinessGenerator(inner, status, name_while_starting)
