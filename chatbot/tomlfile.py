"""Reading the small TOML files a bank maintains (document rules, access
labels, API tokens, the chat directory): one place that turns a missing,
non-UTF-8 or malformed file into a ``ConfigurationError`` saying how to fix it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from chatbot.errors import ConfigurationError


def read_toml(
    path: Path, *, error: type[ConfigurationError] = ConfigurationError, fix: str
) -> tuple[str, dict[str, Any]]:
    """``(text, data)`` of the TOML file at ``path``; ``fix`` ends every message
    ("create it with `chatbot-access token`", "see README, 'Access control'")."""
    if not path.is_file():
        raise error(f"{path} does not exist: {fix}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc}); save it as UTF-8") from exc
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: {exc}. Fix the TOML syntax there ({fix})") from exc
