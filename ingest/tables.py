"""Tables as text a chunk can stand on: one line per row, "header: value".

A limits table cut into chunks loses its header row after the first chunk,
and "80" alone no longer says it is Treasury's daily prompt limit. So every
row repeats the headers it needs: ``Business unit: Treasury; Daily prompt
limit: 80; ...``. Word, PowerPoint and Excel tables all go through here.

A table whose first row does not look like a header (a cell is empty, or a
number) is written as plain rows, cells separated by " | ".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_NUMBER = re.compile(r"^[-+]?[\d.,%$€£¥\s]+$")
MAX_CELL_CHARS = 2000  # one cell of a megabyte would become one chunk of noise


def cell_text(value: object) -> str:
    """A cell as one line of text; floats that are whole numbers lose ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    return text[:MAX_CELL_CHARS]


def _looks_like_header(row: Sequence[str]) -> bool:
    cells = [c for c in row if c]
    return len(cells) >= 2 and len(cells) == len(row) and not any(_NUMBER.match(c) for c in cells)


def table_lines(rows: Iterable[Sequence[object]]) -> list[str]:
    """The table's rows as text lines; empty rows and empty trailing columns dropped."""
    cleaned = [[cell_text(v) for v in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    width = max(max((i + 1 for i, c in enumerate(row) if c), default=0) for row in cleaned)
    cleaned = [(row + [""] * width)[:width] for row in cleaned]
    header, body = cleaned[0], cleaned[1:]
    if not body or not _looks_like_header(header):
        return [" | ".join(c for c in row if c) for row in cleaned]
    lines = [" | ".join(header)]
    for row in body:
        pairs = [f"{name}: {value}" for name, value in zip(header, row, strict=True) if value]
        if pairs:
            lines.append("; ".join(pairs))
    return lines


def table_text(rows: Iterable[Sequence[object]]) -> str:
    return "\n".join(table_lines(rows))
