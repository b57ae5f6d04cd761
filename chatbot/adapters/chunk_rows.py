"""How a chunk and a catalog record are stored as table rows, shared by the
SQLite and PostgreSQL keyword indexes: the column order of ``CHUNK_COLUMNS``
in both schemas and of ``DOCUMENT_COLUMNS`` in both ``documents`` tables,
the document context as sorted JSON text, and stored timestamps."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from chatbot.catalog import DocumentRecord, IndexStatus
from chatbot.domain import Chunk, DocumentContext

# What both catalogs select to make a ``DocumentRecord`` (``record_from_row``).
DOCUMENT_COLUMNS = (
    "source, file_hash, title, pages, chunk_ids, language, ingested_at, context, "
    "period_from, groups"
)


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


def record_from_row(
    row: Sequence[Any], groups: Callable[[object], tuple[str, ...]]
) -> DocumentRecord:
    """A catalog record from the ``DOCUMENT_COLUMNS`` of a ``documents`` row;
    ``groups`` reads the backend's stored groups, as for ``row_to_chunk``."""
    return DocumentRecord(
        source=row[0],
        file_hash=row[1],
        title=row[2],
        pages=int(row[3]),
        chunk_ids=tuple(json.loads(row[4])),
        language=row[5],
        ingested_at=stored_time(row[6]),
        context=context_from_json(row[7]),
        period_from=row[8],
        groups=groups(row[9]),
    )


def status_from_row(totals: Sequence[Any], *, chunks: int, embedder: str | None) -> IndexStatus:
    """The index status from ``count(*), sum(pages), max(ingested_at)`` over
    the documents table."""
    documents, pages, last = totals
    return IndexStatus(
        documents=int(documents),
        pages=int(pages),
        chunks=chunks,
        last_ingested_at=stored_time(last) if last else None,
        embedder=embedder,
    )


def stored_time(raw: object) -> datetime:
    """A stored moment, timezone-aware in UTC: PostgreSQL returns a
    ``datetime``, SQLite the ISO text that ``record_document`` wrote (always
    in UTC)."""
    when = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    return when.astimezone(UTC)
