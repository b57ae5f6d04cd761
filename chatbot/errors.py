"""The project's exception tree. Refusals are not errors and never appear here.

::

    BoundaryError                      root: catch this at the edges only
    ├── ConfigurationError             a setting is missing or contradictory
    ├── IndexMissingError              no index yet: run ingestion first
    ├── IngestionError                 one file could not be read or indexed
    ├── IngestionBusyError             a sync was asked for while another one runs
    ├── UnknownInteractionError        feedback named an interaction the audit does not hold
    ├── EmbedderError                  the embedding model cannot be loaded or run
    ├── RerankerError                  the cross-encoder failed while scoring passages
    ├── ReaderError                    the answerability reader's weights are missing or broken
    ├── ModelWeightsError              embedded LLM weights cannot be fetched or built
    ├── BusyError                      every LLM slot is taken and the queue is full
    └── GeneratorError                 the LLM failed to produce a usable reply
        ├── GeneratorUnavailableError  server down or refusing connections
        │   └── GeneratorStartingError the embedded server is still starting
        ├── GeneratorTimeoutError      server too slow
        └── GeneratorOutputError       reply malformed or empty

Every message says what is wrong and how to fix it; adapters translate
third-party exceptions with ``raise ... from exc``.
"""

from __future__ import annotations

import re


class BoundaryError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigurationError(BoundaryError):
    pass


class IndexMissingError(BoundaryError):
    pass


class IngestionError(BoundaryError):
    """A single file failed; ``hint`` tells the operator what to do about it."""

    def __init__(self, source: str, reason: str, hint: str = "") -> None:
        self.source = source
        self.reason = reason
        self.hint = hint
        text = f"{source}: {reason}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class IngestionBusyError(BoundaryError):
    """A sync was asked for while another one is running."""


class UnknownInteractionError(BoundaryError, LookupError):
    """Feedback named an interaction id the audit store does not hold (or no
    longer). Also a ``LookupError``, which the bots catch."""


class EmbedderError(BoundaryError):
    pass


class RerankerError(BoundaryError):
    """The reranker could not score a question's passages (a fault at question
    time; a model folder that cannot be found or loaded is a
    ``ConfigurationError``)."""


class ReaderError(BoundaryError):
    """The answerability reader cannot be loaded (missing or corrupt weights) or run."""


class ModelWeightsError(BoundaryError):
    pass


class BusyError(BoundaryError):
    """Back-pressure, not a fault: the LLM is serving as many questions as it
    may and the waiting line is full (or a place would not come in time).
    ``retry_after_s`` is about when a place should be free."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class GeneratorError(BoundaryError):
    pass


class GeneratorUnavailableError(GeneratorError):
    pass


class GeneratorStartingError(GeneratorUnavailableError):
    """The embedded LLM is still starting; ``retry_after_s`` is about how long yet."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class GeneratorTimeoutError(GeneratorError):
    pass


class GeneratorOutputError(GeneratorError):
    pass


_OBJECT = re.compile(r"'?<[\w.]+ object at 0x[0-9a-fA-F]+>'?")


def error_detail(exc: BaseException, limit: int = 160) -> str:
    """An exception in words for a report: its type and message, without
    memory addresses (a message about "<_io.BytesIO object at 0x7f...>"
    would read differently on every run)."""
    text = _OBJECT.sub("the file", str(exc))
    return f"{type(exc).__name__}: {text}"[:limit]


def fault_kind(error: BaseException) -> str:
    """A stable short name for a fault, for the audit trail and the API's
    ``error`` field."""
    kinds: tuple[tuple[type[BaseException], str], ...] = (
        (BusyError, "busy"),
        (GeneratorStartingError, "llm_starting"),
        (GeneratorUnavailableError, "llm_unavailable"),
        (GeneratorTimeoutError, "llm_timeout"),
        (GeneratorOutputError, "llm_output"),
        (GeneratorError, "llm_error"),
        (IndexMissingError, "index_missing"),
        (EmbedderError, "embedder"),
        (RerankerError, "reranker"),
        (ReaderError, "reader"),
        (ConfigurationError, "configuration"),
    )
    for kind, name in kinds:
        if isinstance(error, kind):
            return name
    return "internal"
