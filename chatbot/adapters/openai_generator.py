"""Generator over any OpenAI-compatible chat-completions server (vLLM).

The embedded CPU server and a production vLLM deployment take exactly the
same code path; only the base URL, key and model name differ. Third-party
errors become ``GeneratorError`` subclasses whose messages say what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import openai

from chatbot.errors import (
    ConfigurationError,
    GeneratorError,
    GeneratorOutputError,
    GeneratorTimeoutError,
    GeneratorUnavailableError,
)
from chatbot.protocols import ChatMessage

log = logging.getLogger(__name__)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's error base classes: openai 3.x uses httpx2, 1.x httpx."""
    found: list[type[BaseException]] = [OSError]
    for module in ("httpx2", "httpx"):
        try:
            found.append(__import__(module).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


_TRANSPORT_ERRORS = _transport_errors()


class OpenAIChatGenerator:
    """Streams chat completions; ``model=''`` means the server's first model."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str = "",
        *,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> None:
        if not base_url:
            raise ConfigurationError(
                "no LLM server URL: set CHATBOT_LLM__BASE_URL (e.g. http://host:8000/v1) "
                "or use CHATBOT_LLM__MODE=embedded"
            )
        self._base_url = base_url.rstrip("/")
        self._client = openai.OpenAI(
            base_url=self._base_url,
            api_key=api_key or "EMPTY",
            timeout=openai.Timeout(timeout_s, connect=connect_timeout_s),
            max_retries=0,  # the caller decides; a bank user should not wait 3x
        )
        self._model = model
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._seed = seed

    @property
    def model_name(self) -> str:
        if not self._model:
            self._model = self._discover_model()
        return self._model

    def _discover_model(self) -> str:
        try:
            models = self._client.models.list()
        except openai.APIError as exc:
            raise self._translate(exc) from exc
        ids = [m.id for m in models.data]
        if not ids:
            raise GeneratorOutputError(
                f"the LLM server at {self._base_url} lists no models; set CHATBOT_LLM__MODEL"
            )
        return ids[0]

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        payload: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        produced = False
        try:
            stream = self._client.chat.completions.create(
                model=self.model_name,
                messages=payload,
                max_tokens=self._max_tokens,
                temperature=self._temperature,
                seed=self._seed,
                stream=True,
            )
            for event in stream:
                if not event.choices:
                    continue
                delta = event.choices[0].delta.content
                if delta:
                    produced = True
                    yield delta
        except openai.APIError as exc:
            raise self._translate(exc) from exc
        except _TRANSPORT_ERRORS as exc:  # the connection broke mid-stream
            raise GeneratorUnavailableError(
                f"the connection to the LLM server at {self._base_url} broke: {exc}"
            ) from exc
        except (ValueError, AttributeError, TypeError) as exc:  # undecodable stream events
            raise GeneratorOutputError(
                f"the LLM server at {self._base_url} sent a malformed reply ({exc}); is "
                "CHATBOT_LLM__BASE_URL an OpenAI-compatible endpoint?"
            ) from exc
        if not produced:
            raise GeneratorOutputError(f"the LLM server at {self._base_url} returned no text")

    def _translate(self, exc: openai.APIError) -> GeneratorError:
        where = self._base_url
        if isinstance(exc, openai.APITimeoutError):
            return GeneratorTimeoutError(
                f"the LLM server at {where} did not answer in time; try again, or raise "
                "CHATBOT_LLM__TIMEOUT_S"
            )
        if isinstance(exc, openai.APIConnectionError):
            return GeneratorUnavailableError(
                f"cannot reach the LLM server at {where}; is it running? (check "
                "CHATBOT_LLM__BASE_URL, or start the embedded one with `make run`)"
            )
        if isinstance(exc, openai.AuthenticationError):
            return GeneratorUnavailableError(
                f"the LLM server at {where} rejected the API key; set CHATBOT_LLM__API_KEY"
            )
        if isinstance(exc, openai.NotFoundError):
            return GeneratorUnavailableError(
                f"the LLM server at {where} does not serve model {self._model!r}; set "
                "CHATBOT_LLM__MODEL to one it lists at /v1/models"
            )
        if isinstance(exc, openai.APIStatusError):
            return GeneratorUnavailableError(
                f"the LLM server at {where} failed with HTTP {exc.status_code}; see its log"
            )
        return GeneratorOutputError(f"the LLM server at {where} sent a malformed reply: {exc}")
