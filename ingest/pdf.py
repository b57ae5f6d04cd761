"""Read a PDF into one block per page, with its headings, tables and scans.

- The text layer (pypdf) gives each page's text, 1-based page numbers;
  heading-looking lines are noted so chunks can say which section they sit
  in, and running headers and footers (a line repeated at the top or bottom
  of most pages) are dropped.
- Pages that draw a ruled table have it read with pdfplumber
  (``ingest.pdf_tables``), as "header: value" rows.
- Pages without a text layer (a scan, or a mixed PDF's scanned pages) are
  rendered with PDFium (pypdfium2) and read by OCR (``ingest.ocr``), page by
  page, with their confidence.

A PDF that cannot be used raises ``IngestionError`` saying why (damaged,
password-protected, no pages, no text anywhere) and what to do about it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from typing import Any

from chatbot.errors import IngestionError, error_detail
from chatbot.text import normalise_whitespace
from ingest.blocks import Block, Loaded
from ingest.ocr import OcrOptions, OcrPage, ocr_pages, require_tesseract
from ingest.pdf_tables import may_hold_table, table_pages

log = logging.getLogger(__name__)

PDF_SUFFIXES = frozenset({".pdf"})
MIN_TEXT_LAYER_CHARS = 16  # a PDF page with fewer non-blank characters is OCR'd


def load_pdf(data: bytes, source: str, ocr: OcrOptions, file_hash: str | None = None) -> Loaded:
    """(title, blocks, page count) of a PDF; ``file_hash`` (the sha256 of
    ``data``, worked out here when not given) keys the OCR cache."""
    raw_pages, ruled, raw_title = _text_layer(data, source)
    for index, text in table_pages(data, ruled, source).items():
        raw_pages[index] = text
    scanned = _ocr_pdf(data, source, raw_pages, ocr, file_hash)
    for index, page in scanned.items():
        raw_pages[index] = page.text
    texts = _strip_running_lines([normalise_whitespace(raw) for raw in raw_pages])
    blocks: list[Block] = []
    section = ""
    for number, text in enumerate(texts, start=1):
        if not text:
            continue
        headings = _pdf_headings(text)
        confidence = scanned[number - 1].confidence if number - 1 in scanned else None
        low = confidence is not None and confidence < ocr.min_confidence
        blocks.append(
            Block(
                text=text,
                page=number,
                section=section,
                headings=headings,
                ocr_confidence=confidence,
                ocr_low=low,
            )
        )
        if headings:
            section = headings[-1][1]
    if not blocks:
        raise IngestionError(
            source,
            f"no extractable text on any of its {len(raw_pages)} pages: no text layer "
            "that OCR could read, or only lines repeated on every page (headers, footers)",
            "check the scan is of text and legible, or run OCR yourself (e.g. "
            "`ocrmypdf in.pdf out.pdf`) and ingest the result",
        )
    empty = len(raw_pages) - len(blocks)
    if empty:
        log.info("%s: %d of %d pages have no text", source, empty, len(raw_pages))
    title = normalise_whitespace(raw_title).replace("\n", " ")
    if not title or _JUNK_TITLE.match(title):
        first = blocks[0]
        title = first.headings[0][1] if first.headings and first.page == 1 else ""
    return title, tuple(blocks), len(raw_pages)


def _text_layer(data: bytes, source: str) -> tuple[list[str], list[int], str]:
    """(each page's text, the 0-based pages that may hold a ruled table, the
    metadata title) as pypdf reads them."""
    # pypdf raises a zoo of exception types (its own, plus KeyError, ValueError,
    # struct errors...) on damaged files; all of them mean "corrupt" to us.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestionError(
                source,
                "the PDF is password-protected",
                "provide a decrypted copy (e.g. `qpdf --decrypt in.pdf out.pdf`)",
            )
        raw_pages = [page.extract_text() or "" for page in reader.pages]
        ruled = [i for i, page in enumerate(reader.pages) if may_hold_table(page)]
        raw_title = (reader.metadata.title or "") if reader.metadata else ""
    except (IngestionError, MemoryError):
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        raise IngestionError(
            source,
            f"the PDF is encrypted and cannot be opened ({exc})",
            "provide a decrypted copy (e.g. `qpdf --decrypt in.pdf out.pdf`)",
        ) from exc
    except Exception as exc:
        raise IngestionError(
            source,
            f"the PDF is damaged or not a PDF ({error_detail(exc, 300)})",
            "re-export or re-download the file and check it opens in a PDF viewer",
        ) from exc
    if not raw_pages:
        raise IngestionError(source, "the PDF has no pages", "re-export the file")
    return raw_pages, ruled, raw_title


# -- headings --------------------------------------------------------------

_NUMBERED_HEADING = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVXLC]{1,6}\.|[A-Z]\.|"
    r"(?i:chapter|section|part|article|annex|appendix|schedule)\s+[\w.]{1,6}[.:]?)"
    r"\s+(?=[A-Z\u3400-\u9fff\"'(])"
    r"|^第[\d一二三四五六七八九十百]+[章節条條部篇]"
)
_SENTENCE_END = tuple(".:?!;。：？！；")
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to"}
    | {"with", "vs", "via", "per"}
)
_JUNK_TITLE = re.compile(r"^(?:untitled|microsoft word - .*|.*\.(?:docx?|pdf|rtf|odt))$", re.I)


def _looks_like_heading(line: str) -> bool:
    """Cheap guess at a PDF heading: short, no closing punctuation, and either
    numbered ("3.2 Limits", "第三章") or in Title/UPPER case."""
    if not 2 <= len(line) <= 90 or line[-1] in ".,;:!?。，；：！？、)]}":
        return False
    words = line.split()
    if len(words) > 12 or not any(ch.isalpha() for ch in line):
        return False
    if words[-1].lower() in _SMALL_WORDS:  # "... Authority and the": a wrapped line
        return False
    numbered = _NUMBERED_HEADING.match(line)
    if numbered:
        rest = line[numbered.end() :]
        return ". " not in rest and "。" not in rest
    letters = [w for w in words if w[0].isalpha()]
    if not letters:
        return False
    if all(not ch.isascii() for ch in line if ch.isalpha()):
        return len(line) <= 30  # a short CJK line on its own
    significant = [w for w in letters if w.lower() not in _SMALL_WORDS]
    return bool(significant) and all(w[0].isupper() for w in significant)


def _pdf_headings(text: str) -> tuple[tuple[int, str], ...]:
    """(offset, line) of heading-looking lines. A heading starts a paragraph
    (the line before ends a sentence or is itself a heading) and is followed
    by body text; this rejects wrapped lines that merely begin with a number
    or a proper noun, and lone last lines (usually footers)."""
    found: list[tuple[int, str]] = []
    offset = 0
    lines = text.split("\n")
    previous_ends = True
    for index, line in enumerate(lines):
        stripped = line.strip()
        is_heading = (
            bool(stripped)
            and previous_ends
            and index + 1 < len(lines)
            and _looks_like_heading(stripped)
        )
        if is_heading:
            found.append((offset, stripped))
        previous_ends = is_heading or not stripped or stripped.endswith(_SENTENCE_END)
        offset += len(line) + 1
    return tuple(found)


# -- running headers and footers ---------------------------------------------

_EDGE_LINES = 2  # lines at the top and at the bottom of a page checked for repeats
_DIGITS = re.compile(r"\d+")


def _is_table_row(line: str) -> bool:
    """A "header: value; header: value" line as ``ingest.tables`` writes it."""
    cells = line.split("; ")
    return len(cells) >= 2 and all(": " in cell for cell in cells)


def _strip_running_lines(pages: list[str]) -> list[str]:
    """Drop running headers and footers: a line among the first or last two
    of a page that recurs (digits ignored, so "Page 3 of 5" counts) on at
    least half of the pages with text, and on at least two. Repeated on every
    page, such a line would otherwise lead every page's first chunk and match
    keyword searches everywhere. A table row ("Unit: 7; Limit: 80", see
    ``ingest.tables``) is never one: with its digits ignored, the last rows of
    a long table look alike on every page."""
    with_text = [p for p in pages if p]
    if len(with_text) < 2:
        return pages

    def edges(lines: list[str]) -> set[int]:
        count = len(lines)
        ends = set(range(min(_EDGE_LINES, count))) | set(range(max(0, count - _EDGE_LINES), count))
        return {i for i in ends if not _is_table_row(lines[i])}

    seen: dict[str, int] = {}
    for page in with_text:
        lines = page.split("\n")
        keys = {_DIGITS.sub("#", lines[i].strip()) for i in edges(lines)}
        for key in keys - {""}:
            seen[key] = seen.get(key, 0) + 1
    threshold = max(2, (len(with_text) + 1) // 2)
    running = {key for key, count in seen.items() if count >= threshold}
    if not running:
        return pages
    cleaned: list[str] = []
    for page in pages:
        lines = page.split("\n")
        drop = {i for i in edges(lines) if _DIGITS.sub("#", lines[i].strip()) in running}
        kept = "\n".join(line for i, line in enumerate(lines) if i not in drop)
        cleaned.append(normalise_whitespace(kept))
    return cleaned


# -- scanned pages -----------------------------------------------------------


def _ocr_pdf(
    data: bytes, source: str, raw_pages: list[str], ocr: OcrOptions, file_hash: str | None
) -> dict[int, OcrPage]:
    """OCR the pages (0-based) whose text layer is (nearly) empty. When OCR
    cannot run, a PDF with no text at all fails with the reason; a mixed one
    keeps its text pages and logs the pages it could not read."""
    empty = [
        i for i, raw in enumerate(raw_pages) if len("".join(raw.split())) < MIN_TEXT_LAYER_CHARS
    ]
    if not empty:
        return {}
    what = (
        f"no page of its {len(raw_pages)} has a text layer (a scan?)"
        if len(empty) == len(raw_pages)
        else f"{len(empty)} of its {len(raw_pages)} pages have no text layer"
    )
    try:
        require_tesseract(source, ocr, what)
    except IngestionError:
        if len(empty) == len(raw_pages):
            raise
        log.warning("%s: %s; OCR is not available, so they are left out", source, what)
        return {}
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except (pdfium.PdfiumError, ValueError, OSError) as exc:
        raise IngestionError(
            source,
            f"the PDF's scanned pages cannot be rendered for OCR ({exc})",
            "re-export or re-scan the file and check it opens in a PDF viewer",
        ) from exc
    try:
        digest = file_hash or hashlib.sha256(data).hexdigest()
        read = ocr_pages(source, digest, empty, lambda i: render_page(pdf, i, ocr.dpi), ocr, what)
    finally:
        pdf.close()
    low = [i + 1 for i, page in read.items() if page.text and page.confidence < ocr.min_confidence]
    log.info("%s: %d pages read by OCR, %d with low confidence", source, len(read), len(low))
    return {i: page for i, page in read.items() if page.text}


def render_page(pdf: Any, page: int, dpi: int) -> bytes:
    """A PDF page (an open ``pypdfium2.PdfDocument``) as a grey PNG."""
    bitmap = pdf[page].render(scale=dpi / 72, grayscale=True)
    image = bitmap.to_pil()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


__all__ = ["MIN_TEXT_LAYER_CHARS", "PDF_SUFFIXES", "load_pdf", "render_page"]
