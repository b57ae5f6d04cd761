"""Read corpus files into plain text blocks with their page and section.

One loader per format, all returning a ``LoadedDocument`` (``ingest.blocks``):

- PDF (pypdf): one block per page, 1-based page numbers; heading-looking lines
  are noted so chunks can say which section they sit in. Pages without a text
  layer (a scan, or a mixed PDF's scanned pages) are read by OCR
  (``ingest.ocr``), page by page, with their confidence; pages that draw a
  ruled table have it read with pdfplumber (``ingest.pdf_tables``), as
  "header: value" rows.
- Images (.png, .jpg, .tif): OCR, one block per frame.
- Word, PowerPoint, Excel (``ingest.office``): sections from Word's headings,
  one block per slide or sheet; tables as "header: value" rows.
- E-mail, .eml and .msg (``ingest.mail``): envelope and body, and each
  supported attachment as a part of its own (read by this module again).
- Markdown and HTML (``ingest.markup``): one block per heading section, with
  the heading path ("Part > Section"); scripts and styles dropped.
- Plain text: one block.

A file that cannot be used raises ``IngestionError`` with the reason and what
the operator can do about it. Nothing here guesses silently: text that is not
UTF-8 is rejected rather than decoded with a codec that might garble it, and
so is text with NUL bytes (binary data, or UTF-16 that happens to decode).
A ``MemoryError`` is let through: the caller (``ingest.isolation``) reports
it as the memory limit it is, not as a damaged file.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from pathlib import Path

from chatbot.errors import IngestionError
from chatbot.text import normalise_whitespace
from ingest.blocks import SECTION_SEPARATOR, Block, LoadedDocument, plain_blocks
from ingest.mail import MAIL_SUFFIXES, load_mail
from ingest.markup import load_html, load_markdown
from ingest.ocr import (
    IMAGE_SUFFIXES,
    ImagePages,
    OcrOptions,
    OcrPage,
    ocr_pages,
    render_pdf_page,
)
from ingest.office import OFFICE_SUFFIXES, load_office
from ingest.pdf_tables import may_hold_table, table_pages

log = logging.getLogger(__name__)

PDF_SUFFIXES = frozenset({".pdf"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
TEXT_SUFFIXES = frozenset({".txt"})
SUPPORTED_SUFFIXES = (
    PDF_SUFFIXES
    | MARKDOWN_SUFFIXES
    | HTML_SUFFIXES
    | TEXT_SUFFIXES
    | OFFICE_SUFFIXES
    | MAIL_SUFFIXES
    | IMAGE_SUFFIXES
)
Loaded = tuple[str, tuple[Block, ...], int]  # (title, blocks, pages)
MIN_TEXT_LAYER_CHARS = 16  # a PDF page with fewer non-blank characters is OCR'd


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def file_sha256(path: Path, source: str) -> str:
    """sha256 of the file, read in blocks; unreadable files raise IngestionError."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise _unreadable(source, exc) from exc
    return digest.hexdigest()


def load_document(
    path: Path, source: str, *, max_file_mb: float, ocr: OcrOptions | None = None
) -> LoadedDocument:
    """Read ``path`` (shown to users as ``source``) into text blocks.

    Raises ``IngestionError`` for unusable files and ``ValueError`` for an
    unsupported extension (callers check ``is_supported`` first). ``ocr``
    configures OCR for scanned pages and images (defaults without a cache).
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ValueError(f"unsupported file type: {path.name}")
    data = _read_bytes(path, source, max_file_mb)
    file_hash = hashlib.sha256(data).hexdigest()
    try:
        title, blocks, pages = load_bytes(data, suffix, source, ocr or OcrOptions())
    except RecursionError as exc:
        raise IngestionError(
            source,
            "the file is nested too deeply to read safely (parts inside parts, or XML "
            "elements, thousands deep)",
            "check where it came from; re-save it from its usual program",
        ) from exc
    if not blocks:
        raise IngestionError(source, "the file has no text", "add content or remove the file")
    scanned = sum(1 for b in blocks if b.ocr_confidence is not None and not b.part)
    return LoadedDocument(source, _short(title or path.stem), file_hash, blocks, pages, scanned)


def load_bytes(
    data: bytes, suffix: str, source: str, ocr: OcrOptions, depth: int = 0
) -> tuple[str, tuple[Block, ...], int]:
    """(title, blocks, pages) of a file's bytes, by its suffix; a mail's
    attachments come back here at ``depth`` + 1."""
    if suffix in PDF_SUFFIXES:
        return _load_pdf(data, source, ocr)
    if suffix in OFFICE_SUFFIXES:
        return load_office(data, suffix, source)
    if suffix in IMAGE_SUFFIXES:
        return _load_image(data, source, ocr)
    if suffix in MAIL_SUFFIXES:

        def read_part(name: str, content: bytes, level: int) -> Loaded | None:
            part_suffix = Path(name).suffix.lower()
            if part_suffix not in SUPPORTED_SUFFIXES:
                return None
            return load_bytes(content, part_suffix, f"{source} > {name}", ocr, level)

        return load_mail(data, suffix, source, read_part, depth)
    text = _decode(data, source)
    try:
        if suffix in MARKDOWN_SUFFIXES:
            title, blocks = load_markdown(text)
        elif suffix in HTML_SUFFIXES:
            title, blocks = load_html(text)
        else:
            title, blocks = "", plain_blocks(text)
    except (AssertionError, ValueError, IndexError, RecursionError) as exc:
        # The markup parsers are meant to take any text; should one still
        # trip over a file, that file fails, not the whole sync.
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise IngestionError(
            source,
            f"the {suffix[1:].upper()} markup could not be parsed ({detail})",
            "check the file opens normally; re-save it, or convert it to plain text",
        ) from exc
    return title, blocks, 0


def _load_image(data: bytes, source: str, ocr: OcrOptions) -> Loaded:
    frames = ImagePages(data, source, ocr.max_pages)
    try:
        file_hash = hashlib.sha256(data).hexdigest()
        pages = list(range(frames.count))
        read = ocr_pages(source, file_hash, pages, frames.render, ocr, "the file is an image")
    finally:
        frames.close()
    blocks = tuple(
        Block(
            text=page.text,
            page=index + 1,
            ocr_confidence=page.confidence,
            ocr_low=page.confidence < ocr.min_confidence,
        )
        for index, page in sorted(read.items())
        if page.text
    )
    if not blocks:
        raise IngestionError(
            source, "OCR found no text in the image", "check the scan is of text and legible"
        )
    return "", blocks, frames.count


MAX_TITLE_CHARS = 200


def _short(title: str) -> str:
    """A title fit for labels and citations: every chunk carries it, so a
    <title> of a megabyte (or a 255-byte file name) is cut, with an ellipsis."""
    return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"


# -- reading ---------------------------------------------------------------


def _unreadable(source: str, exc: OSError) -> IngestionError:
    return IngestionError(
        source,
        f"cannot read the file ({exc.strerror or type(exc).__name__})",
        "check that it exists and that the ingesting user may read it",
    )


def check_size(path: Path, source: str, max_file_mb: float) -> int:
    """The file's size in bytes; IngestionError when it is over the limit (checked
    before anything reads it: a sparse 1 TB file is cheap to make, slow to hash)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _unreadable(source, exc) from exc
    if size > max_file_mb * 1024 * 1024:
        raise IngestionError(
            source,
            f"file is {size / 1024 / 1024:.1f} MB, over the {max_file_mb:g} MB limit",
            "split it into smaller files or raise CHATBOT_INGEST__MAX_FILE_MB",
        )
    return size


def _read_bytes(path: Path, source: str, max_file_mb: float) -> bytes:
    check_size(path, source, max_file_mb)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(source, exc) from exc
    if not data.strip():
        raise IngestionError(source, "the file is empty", "add content or remove the file")
    return data


def _decode(data: bytes, source: str) -> str:
    # utf-8-sig first: it is utf-8 that also drops a byte-order mark.
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestionError(
            source,
            f"the text is not valid UTF-8 (bad byte at offset {exc.start})",
            "re-save the file as UTF-8 (e.g. `iconv -f BIG5 -t UTF-8`, or 'Save as UTF-8' "
            "in your editor)",
        ) from exc
    nul = text.find("\x00")
    if nul >= 0:
        raise IngestionError(
            source,
            f"the file holds NUL bytes (first at character {nul}): binary data, or "
            "UTF-16/UTF-32 text, not UTF-8",
            "re-save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`), or remove it if it "
            "is not a document",
        )
    return text


# -- PDF -------------------------------------------------------------------

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


def _load_pdf(data: bytes, source: str, ocr: OcrOptions) -> tuple[str, tuple[Block, ...], int]:
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
            f"the PDF is damaged or not a PDF ({type(exc).__name__}: {exc})",
            "re-export or re-download the file and check it opens in a PDF viewer",
        ) from exc
    if not raw_pages:
        raise IngestionError(source, "the PDF has no pages", "re-export the file")

    for index, text in table_pages(data, ruled, source).items():
        raw_pages[index] = text
    scanned = _ocr_pdf(data, source, raw_pages, ocr)
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


def _ocr_pdf(data: bytes, source: str, raw_pages: list[str], ocr: OcrOptions) -> dict[int, OcrPage]:
    """OCR the pages (0-based) whose text layer is (nearly) empty. When OCR
    cannot run, a PDF with no text at all fails with the reason; a mixed one
    keeps its text pages and logs the pages it could not read."""
    from ingest.ocr import require_tesseract

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
        file_hash = hashlib.sha256(data).hexdigest()
        read = ocr_pages(
            source, file_hash, empty, lambda i: render_pdf_page(pdf, i, ocr.dpi), ocr, what
        )
    finally:
        pdf.close()
    low = [i + 1 for i, page in read.items() if page.text and page.confidence < ocr.min_confidence]
    log.info("%s: %d pages read by OCR, %d with low confidence", source, len(read), len(low))
    return {i: page for i, page in read.items() if page.text}


__all__ = [
    "SECTION_SEPARATOR",
    "SUPPORTED_SUFFIXES",
    "Block",
    "LoadedDocument",
    "check_size",
    "file_sha256",
    "is_supported",
    "load_bytes",
    "load_document",
]
