"""Tables on PDF pages, read with pdfplumber so their columns survive.

pypdf gives a ruled table's cells as words in a row ("Unit 0 100 20 Head of
Unit 0"): which number is the limit and which the page count is lost. On the
pages that may hold a table, pdfplumber finds ruled tables from the page's
drawn lines and gives their cells; the page's text is then rebuilt top to
bottom from the lines outside the tables and each table as "header: value"
rows (``ingest.tables``).

Finding tables costs pdfplumber's layout analysis of the page, so only pages
whose content stream draws at least ``MIN_RULES`` rectangles or line
segments are looked at (a page of plain text draws none). Should pdfplumber
fail on a page, the page keeps pypdf's text: a table read less well is no
reason to lose the file.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from ingest.tables import table_text

log = logging.getLogger(__name__)

MIN_RULES = 4
_RULE = re.compile(rb"(?<![A-Za-z])(?:re|l)\s")


def may_hold_table(page: Any) -> bool:
    """Whether a pypdf page draws enough rules to be worth a table search."""
    try:
        contents = page.get_contents()
        data = contents.get_data() if contents is not None else b""
    except Exception:  # damaged content: pypdf's text extraction reports it
        return False
    return len(_RULE.findall(data, 0, 4 << 20)) >= MIN_RULES


def table_pages(data: bytes, pages: list[int], source: str) -> dict[int, str]:
    """{0-based page: text with its tables as rows} for the ``pages`` on which
    pdfplumber finds a table with at least two rows."""
    if not pages:
        return {}
    import pdfplumber

    found: dict[int, str] = {}
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for index in pages:
                try:
                    text = _page_text(pdf.pages[index])
                except MemoryError:
                    raise
                except Exception as exc:
                    log.warning("%s: p. %d: table search failed (%s)", source, index + 1, exc)
                    continue
                if text is not None:
                    found[index] = text
    except MemoryError:
        raise
    except Exception as exc:  # pdfminer could not open what pypdf could
        log.warning("%s: tables not read (%s: %s)", source, type(exc).__name__, exc)
        return {}
    if found:
        log.info("%s: tables read on pages %s", source, ", ".join(str(i + 1) for i in found))
    return found


def _page_text(page: Any) -> str | None:
    tables = [t for t in page.find_tables() if len(t.rows) >= 2]
    if not tables:
        return None
    rest = page
    for table in tables:
        rest = rest.outside_bbox(table.bbox)
    pieces: list[tuple[float, str]] = [
        (float(line["top"]), str(line["text"])) for line in rest.extract_text_lines()
    ]
    for table in tables:
        text = table_text(table.extract())
        if text:
            pieces.append((float(table.bbox[1]), f"\n{text}\n"))
    pieces.sort(key=lambda piece: piece[0])
    return "\n".join(text for _, text in pieces)


__all__ = ["MIN_RULES", "may_hold_table", "table_pages"]
