"""How a chunk is stored as a table row, shared by the SQLite and PostgreSQL
keyword indexes: the column order of ``CHUNK_COLUMNS`` in both schemas, and
the document context as sorted JSON text."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from chatbot.domain import Chunk, DocumentContext


def row_to_chunk(row: Sequence[Any], groups: Callable[[object], tuple[str, ...]]) -> Chunk:
    """A chunk from the twelve columns ``id, text, source, title, page,
    section, language, content_hash, file_hash, position, context, groups``;
    ``groups`` reads the backend's stored groups (nothing readable: none)."""
    return Chunk(
        id=str(row[0]),
        text=str(row[1]),
        source=str(row[2]),
        title=str(row[3]),
        page=int(row[4]) if row[4] is not None else None,
        section=str(row[5]),
        language=str(row[6]),
        content_hash=str(row[7]),
        file_hash=str(row[8]),
        position=int(row[9]),
        context=context_from_json(row[10]),
        groups=groups(row[11]),
    )


def context_json(context: DocumentContext) -> str:
    return json.dumps(context.metadata(), ensure_ascii=False, sort_keys=True)


def context_from_json(raw: object) -> DocumentContext:
    """The stored context; unreadable JSON reads as no context."""
    try:
        data = json.loads(str(raw or "{}"))
    except json.JSONDecodeError:
        return DocumentContext()
    return DocumentContext.from_metadata(data if isinstance(data, dict) else {})
