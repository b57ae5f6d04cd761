"""Generator over any OpenAI-compatible chat-completions server (vLLM).

The embedded CPU server and a production vLLM deployment take exactly the
same code path; only the base URL, key and model name differ. Third-party
errors become ``GeneratorError`` subclasses whose messages say what to do.

``complete_json`` constrains a reply to a JSON Schema. vLLM's default JSON
grammar allows any whitespace between tokens, and a small model sometimes
emits whitespace after ``{`` until ``max_tokens`` runs out. vLLM only turns
that off server-wide (``--structured-outputs-config.disable_any_whitespace``;
the per-request field of that name is ignored in vLLM 0.32), so for a flat
object schema the request carries an equivalent regular expression for the
compact JSON text instead (vLLM's ``structured_outputs.regex``), which has no
free whitespace and bounds every string by its ``maxLength``. Other schemas
go as the standard ``response_format`` ``json_schema``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

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

# One character of a JSON string: anything but a quote, a backslash or a
# control character, or an escape.
_JSON_STRING_CHAR = r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})'
_DEFAULT_MAX_STRING = 500  # for string properties without maxLength


def compact_json_pattern(schema: Mapping[str, Any]) -> str | None:
    """A regular expression matching exactly the compact JSON texts (no
    whitespace between tokens, properties in schema order) that ``schema``
    allows, or None when ``schema`` is not a flat object whose properties are
    all required and each a boolean, an integer, a string or an enum."""
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict) or not properties:
        return None
    if set(schema.get("required", ())) != set(properties):
        return None
    parts: list[str] = []
    for key, spec in properties.items():
        value = _value_pattern(spec) if isinstance(spec, dict) else None
        if value is None:
            return None
        parts.append(re.escape(json.dumps(key, ensure_ascii=False)) + ":" + value)
    return r"\{" + ",".join(parts) + r"\}"


def _value_pattern(spec: Mapping[str, Any]) -> str | None:
    if "enum" in spec:
        values = spec["enum"]
        if not values or not all(isinstance(v, str | bool | int) for v in values):
            return None
        return "(?:" + "|".join(re.escape(json.dumps(v, ensure_ascii=False)) for v in values) + ")"
    kind = spec.get("type")
    if kind == "boolean":
        return "(?:true|false)"
    if kind == "integer":
        return "-?(?:0|[1-9][0-9]{0,17})"
    if kind == "string":
        low = int(spec.get("minLength", 0))
        high = int(spec.get("maxLength", _DEFAULT_MAX_STRING))
        return f'"{_JSON_STRING_CHAR}{{{low},{high}}}"'
    return None


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
        cache_salt: str | None = None,
        server: Literal["vllm", "llama.cpp"] = "vllm",
    ) -> None:
        """``cache_salt``: sent as vLLM's ``cache_salt`` so this client's
        prompts share the server's prefix cache only with each other (for
        benchmarks that must not reuse another client's cached prompt).
        ``server``: how ``complete_json`` asks for a constrained reply
        (vLLM's structured outputs, or llama.cpp's schema grammar)."""
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
        self._timeout_s = timeout_s
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._seed = seed
        self._extra: dict[str, Any] = {"cache_salt": cache_salt} if cache_salt else {}
        self._server = server

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
        """The reply's text as it arrives. The whole reply must come within
        ``timeout_s``: the HTTP read timeout alone would let a server that
        sends a token now and then keep a question waiting for ever."""
        payload: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        produced = False
        deadline = time.monotonic() + self._timeout_s
        try:
            stream = self._client.chat.completions.create(
                model=self.model_name,
                messages=payload,
                max_tokens=self._max_tokens,
                temperature=self._temperature,
                seed=self._seed,
                stream=True,
                extra_body=self._extra or None,
            )
            with stream:
                for event in stream:
                    if time.monotonic() > deadline:
                        raise self._too_slow()
                    if not event.choices:
                        continue
                    delta = event.choices[0].delta.content
                    if delta:
                        produced = True
                        yield delta
        except openai.APIError as exc:
            raise self._translate(exc) from exc
        except _TRANSPORT_ERRORS as exc:  # the connection broke (or went quiet) mid-stream
            if "Timeout" in type(exc).__name__:
                raise self._too_slow() from exc
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

    def complete_json(
        self,
        messages: Sequence[ChatMessage],
        schema: dict[str, Any],
        *,
        name: str,
        max_tokens: int,
    ) -> dict[str, Any]:
        """One non-streamed completion at temperature 0 constrained to
        ``schema``, parsed (see the module docstring for how)."""
        payload: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        pattern = compact_json_pattern(schema) if self._server == "vllm" else None
        constraint: dict[str, Any] = (
            {"extra_body": {"structured_outputs": {"regex": pattern}, **self._extra}}
            if pattern is not None
            else {
                # llama.cpp turns the schema into a grammar with bounded whitespace.
                "response_format": {"type": "json_object", "schema": schema},
                **({"extra_body": self._extra} if self._extra else {}),
            }
            if self._server == "llama.cpp"
            else {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": schema, "strict": True},
                },
                **({"extra_body": self._extra} if self._extra else {}),
            }
        )
        try:
            completion = self._client.chat.completions.create(
                model=self.model_name,
                messages=payload,
                max_tokens=max_tokens,
                temperature=0.0,
                seed=self._seed,
                stream=False,
                **constraint,
            )
            choice = completion.choices[0] if completion.choices else None
            text = (choice.message.content or "") if choice is not None else ""
            finish = choice.finish_reason if choice is not None else None
        except openai.APIError as exc:
            raise self._translate(exc) from exc
        except _TRANSPORT_ERRORS as exc:
            raise GeneratorUnavailableError(
                f"the connection to the LLM server at {self._base_url} broke: {exc}"
            ) from exc
        except (ValueError, AttributeError, TypeError) as exc:
            raise GeneratorOutputError(
                f"the LLM server at {self._base_url} sent a malformed reply ({exc}); is "
                "CHATBOT_LLM__BASE_URL an OpenAI-compatible endpoint?"
            ) from exc
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GeneratorOutputError(
                f"the LLM server at {self._base_url} returned no usable JSON for {name!r} "
                f"(finish_reason={finish}): {text[:120]!r}"
            ) from exc
        if not isinstance(value, dict):
            raise GeneratorOutputError(
                f"the LLM server at {self._base_url} returned JSON that is not an object "
                f"for {name!r}: {text[:120]!r}"
            )
        return value

    def _too_slow(self) -> GeneratorTimeoutError:
        return GeneratorTimeoutError(
            f"the LLM server at {self._base_url} did not answer within "
            f"{self._timeout_s:g} s; try again, or raise CHATBOT_LLM__TIMEOUT_S"
        )

    def _translate(self, exc: openai.APIError) -> GeneratorError:
        where = self._base_url
        if isinstance(exc, openai.APITimeoutError):
            return self._too_slow()
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
