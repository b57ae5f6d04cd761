"""chromadb's exceptions turned into ``BoundaryError`` sentences that say
what to fix (start the server, set a token, rebuild the index), naming the
index they came from.

chromadb has no exception for an unreachable server or a refused token, so
both are recognised from the exception's type name, text or HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chromadb.errors import ChromaError, InvalidArgumentError, NotFoundError

from chatbot.errors import BoundaryError, ConfigurationError, IndexMissingError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ChromaErrors:
    """Translates errors for one index: ``where`` names it in messages
    ("Chroma at data/index/chroma"); ``server`` is ``host:port`` for a Chroma
    server, ``None`` on disk."""

    where: str
    server: str | None = None

    def call(self, action: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """``fn(**kwargs)``, any failure but our own raised as ``translate``
        says ("cannot ``action`` <where>: ...")."""
        try:
            return fn(**kwargs)
        except BoundaryError:
            raise
        except Exception as exc:
            raise self.translate(action, exc) from exc

    def translate(self, action: str, exc: BaseException) -> BoundaryError:
        where = self.where
        said = _sentence(str(exc) or type(exc).__name__)
        if self.server is not None and _looks_unreachable(exc):
            return ConfigurationError(
                f"cannot {action} {where}: {said} Is the Chroma server running at "
                f"{self.server}? Set CHATBOT_INDEX__CHROMA_HOST and "
                "CHATBOT_INDEX__CHROMA_PORT (and CHATBOT_INDEX__CHROMA_SSL for https)."
            )
        if _status_code(exc) in (401, 403):
            return ConfigurationError(
                f"{where} refused access: {said} Set CHATBOT_INDEX__CHROMA_TOKEN to a valid token."
            )
        if isinstance(exc, InvalidArgumentError) and "dimension" in said:
            return ConfigurationError(
                f"{where}: {said} The collection was built with another embedding "
                "model: run `chatbot-ingest --rebuild`."
            )
        if isinstance(exc, NotFoundError):
            return IndexMissingError(
                f"{where}: {said} Run `chatbot-ingest` to (re)create the collection."
            )
        if isinstance(exc, ChromaError | OSError):
            return BoundaryError(
                f"cannot {action} {where}: {said} Check the folder is writable and not "
                "used by another Chroma version, or run `chatbot-ingest --rebuild`."
            )
        return BoundaryError(f"cannot {action} {where}: {type(exc).__name__}: {said}")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def _status_code(exc: BaseException) -> int | None:
    if isinstance(exc, ChromaError):
        try:
            return int(exc.code())
        except Exception:
            return None
    response: Any = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return int(code) if isinstance(code, int) else None


def _looks_unreachable(exc: BaseException) -> bool:
    # HttpClient raises a bare ValueError when its first heartbeat fails, and
    # httpx transport errors afterwards; neither has a dedicated chromadb type.
    name = type(exc).__name__
    text = str(exc).lower()
    return (
        isinstance(exc, ConnectionError | TimeoutError)
        or name in {"ConnectError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError"}
        or "could not connect" in text
        or "connection refused" in text
    )
