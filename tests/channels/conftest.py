"""Fixtures for channel tests: an audited assistant on the fake pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.assistant import Assistant
from chatbot.audit import AuditStore
from tests.builders import pipeline_with
from tests.fakes_llm import ScriptedGenerator


@pytest.fixture
def audit(tmp_path: Path) -> AuditStore:
    return SqliteAuditStore(tmp_path / "audit.sqlite3", retention_days=30)


@pytest.fixture
def make_assistant(audit: AuditStore) -> Callable[..., Assistant]:
    """``make_assistant(*replies, **parts)``: the fake pipeline with a scripted
    LLM; ``parts`` are ``pipeline_with``'s (short_answer, reranker, embedder)."""

    def make(*replies: object, **parts: Any) -> Assistant:
        generator = ScriptedGenerator(*replies)  # type: ignore[arg-type]
        return Assistant(pipeline_with(generator, **parts), audit)

    return make
