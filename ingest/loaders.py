"""Read corpus files into plain text blocks with their page and section.

One loader per format, all returning a ``LoadedDocument``:

- PDF (pypdf): one block per page, 1-based page numbers; heading-looking lines
  are noted so chunks can say which section they sit in.
- Markdown: one block per heading section, with the heading path
  ("Part > Section").
- HTML (stdlib ``html.parser``): like Markdown, from ``h1``-``h6``; scripts and
  styles dropped.
- Plain text: one block.

A file that cannot be used raises ``IngestionError`` with the reason and what
the operator can do about it. Nothing here guesses silently: text that is not
UTF-8 is rejected rather than decoded with a codec that might garble it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from chatbot.errors import IngestionError
from chatbot.text import normalise_whitespace

log = logging.getLogger(__name__)

PDF_SUFFIXES = frozenset({".pdf"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
TEXT_SUFFIXES = frozenset({".txt"})
SUPPORTED_SUFFIXES = PDF_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES

SECTION_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class Block:
    """A run of text that chunks never cross (a PDF page, a Markdown section).

    ``section`` is the heading path in force where the block starts;
    ``headings`` lists (character offset, heading) for headings found inside
    the block's text, so a chunk can take the last one at or before its start.
    """

    text: str
    page: int | None = None
    section: str = ""
    headings: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    source: str  # path relative to the corpus root, POSIX separators
    title: str
    file_hash: str  # sha256 of the bytes that were read
    blocks: tuple[Block, ...]
    pages: int = 0  # PDF page count; 0 for formats without pages


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


def load_document(path: Path, source: str, *, max_file_mb: float) -> LoadedDocument:
    """Read ``path`` (shown to users as ``source``) into text blocks.

    Raises ``IngestionError`` for unusable files and ``ValueError`` for an
    unsupported extension (callers check ``is_supported`` first).
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ValueError(f"unsupported file type: {path.name}")
    data = _read_bytes(path, source, max_file_mb)
    file_hash = hashlib.sha256(data).hexdigest()
    stem = path.stem
    if suffix in PDF_SUFFIXES:
        title, blocks, pages = _load_pdf(data, source)
        return LoadedDocument(source, title or stem, file_hash, blocks, pages)
    text = _decode(data, source)
    if suffix in MARKDOWN_SUFFIXES:
        title, blocks = _load_markdown(text)
    elif suffix in HTML_SUFFIXES:
        title, blocks = _load_html(text)
    else:
        title, blocks = "", _plain_blocks(text)
    if not blocks:
        raise IngestionError(source, "the file has no text", "add content or remove the file")
    return LoadedDocument(source, title or stem, file_hash, blocks)


# -- reading ---------------------------------------------------------------


def _unreadable(source: str, exc: OSError) -> IngestionError:
    return IngestionError(
        source,
        f"cannot read the file ({exc.strerror or type(exc).__name__})",
        "check that it exists and that the ingesting user may read it",
    )


def _read_bytes(path: Path, source: str, max_file_mb: float) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_file_mb * 1024 * 1024:
            raise IngestionError(
                source,
                f"file is {size / 1024 / 1024:.1f} MB, over the {max_file_mb:g} MB limit",
                "split it into smaller files or raise CHATBOT_INGEST__MAX_FILE_MB",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(source, exc) from exc
    if not data.strip():
        raise IngestionError(source, "the file is empty", "add content or remove the file")
    return data


def _decode(data: bytes, source: str) -> str:
    # utf-8-sig first: it is utf-8 that also drops a byte-order mark.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestionError(
            source,
            f"the text is not valid UTF-8 (bad byte at offset {exc.start})",
            "re-save the file as UTF-8 (e.g. `iconv -f BIG5 -t UTF-8`, or 'Save as UTF-8' "
            "in your editor)",
        ) from exc


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


def _strip_running_lines(pages: list[str]) -> list[str]:
    """Drop running headers and footers: a line among the first or last two
    of a page that recurs (digits ignored, so "Page 3 of 5" counts) on at
    least half of the pages with text, and on at least two. Repeated on every
    page, such a line would otherwise lead every page's first chunk and match
    keyword searches everywhere."""
    with_text = [p for p in pages if p]
    if len(with_text) < 2:
        return pages

    def edges(lines: list[str]) -> set[int]:
        count = len(lines)
        return set(range(min(_EDGE_LINES, count))) | set(range(max(0, count - _EDGE_LINES), count))

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


def _load_pdf(data: bytes, source: str) -> tuple[str, tuple[Block, ...], int]:
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
        raw_title = (reader.metadata.title or "") if reader.metadata else ""
    except IngestionError:
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

    texts = _strip_running_lines([normalise_whitespace(raw) for raw in raw_pages])
    blocks: list[Block] = []
    section = ""
    for number, text in enumerate(texts, start=1):
        if not text:
            continue
        headings = _pdf_headings(text)
        blocks.append(Block(text=text, page=number, section=section, headings=headings))
        if headings:
            section = headings[-1][1]
    if not blocks:
        raise IngestionError(
            source,
            f"no extractable text on any of its {len(raw_pages)} pages (scanned or "
            "image-only PDF?)",
            "run OCR first, e.g. `ocrmypdf in.pdf out.pdf`, and ingest the result",
        )
    empty = len(raw_pages) - len(blocks)
    if empty:
        log.info("%s: %d of %d pages have no text", source, empty, len(raw_pages))
    title = normalise_whitespace(raw_title).replace("\n", " ")
    if not title or _JUNK_TITLE.match(title):
        first = blocks[0]
        title = first.headings[0][1] if first.headings and first.page == 1 else ""
    return title, tuple(blocks), len(raw_pages)


# -- outlines: Markdown and HTML share the heading-path logic --------------


@dataclass(frozen=True, slots=True)
class _Heading:
    level: int
    text: str


def _sectioned_blocks(items: Iterable[_Heading | str]) -> tuple[str, tuple[Block, ...]]:
    """Group text under its heading path; returns (title, blocks).

    A document whose only level-1 heading comes first is taken to be titled by
    it: the title is stored on every chunk already, so it is left out of the
    section paths rather than repeated in each.
    """
    entries = list(items)
    headings = [e for e in entries if isinstance(e, _Heading)]
    title = headings[0].text if headings else ""
    first_is_title = False
    if headings and headings[0].level == 1:
        before = entries[: entries.index(headings[0])]
        first_is_title = not any(str(e).strip() for e in before) and (
            sum(1 for h in headings if h.level == 1) == 1
        )
    stack: list[_Heading] = []
    blocks: list[Block] = []
    body: list[str] = []
    current: _Heading | None = None

    def flush() -> None:
        text = normalise_whitespace("\n".join(body))
        if text:
            if current is not None and not (first_is_title and current is headings[0]):
                text = normalise_whitespace(f"{current.text}\n\n{text}")
            path = SECTION_SEPARATOR.join(
                h.text for h in stack if not (first_is_title and h is headings[0])
            )
            blocks.append(Block(text=text, section=path))
        body.clear()

    for entry in entries:
        if isinstance(entry, _Heading):
            flush()
            while stack and stack[-1].level >= entry.level:
                stack.pop()
            stack.append(entry)
            current = entry
        else:
            body.append(entry)
    flush()
    return title, tuple(blocks)


def _plain_blocks(text: str) -> tuple[Block, ...]:
    cleaned = normalise_whitespace(text)
    return (Block(text=cleaned),) if cleaned else ()


# -- Markdown --------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_NOT_SETEXT_TEXT = re.compile(r"^(?:[-*+>|]|\d+[.)]|```|~~~)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_CODE = re.compile(r"`([^`\n]+)`")
_QUOTE = re.compile(r"^ {0,3}> ?")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.S)


def _inline_markdown(line: str) -> str:
    # Keep link and image text, drop URLs and markup: noise for both indexes
    # and for the passages shown to the model. Single '*'/'_' emphasis is left
    # alone: too easily confused with identifiers and footnote marks.
    line = _LINK.sub(r"\1", _IMAGE.sub(r"\1", line))
    line = _CODE.sub(r"\1", _STRONG.sub(r"\2", line))
    return _QUOTE.sub("", line)


def _load_markdown(text: str) -> tuple[str, tuple[Block, ...]]:
    text = _COMMENT.sub("", text.replace("\r\n", "\n"))
    front_title = ""
    match = _FRONT_MATTER.match(text)
    if match:
        for line in match.group(1).splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "title":
                front_title = value.strip().strip("'\"")
        text = text[match.end() :]

    items: list[_Heading | str] = []
    fence: str | None = None
    lines = text.split("\n")
    for index, line in enumerate(lines):
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            fence = None if fence == marker else (fence or marker)
            continue
        if fence is not None:
            items.append(line)
            continue
        atx = _ATX.match(line)
        if atx:
            heading = _inline_markdown(atx.group(2)).strip()
            if heading:
                items.append(_Heading(len(atx.group(1)), heading))
            continue
        setext = _SETEXT.match(line)
        if setext:
            previous = lines[index - 1].strip() if index else ""
            before = lines[index - 2].strip() if index >= 2 else ""
            # "Title\n=====" when the line before is a one-line paragraph;
            # otherwise a horizontal rule, which carries no text.
            follows_text = bool(items) and isinstance(items[-1], str)
            if follows_text and previous and not before and not _NOT_SETEXT_TEXT.match(previous):
                items.pop()
                level = 1 if setext.group(1).startswith("=") else 2
                items.append(_Heading(level, _inline_markdown(previous)))
            continue
        items.append(_inline_markdown(line))
    title, blocks = _sectioned_blocks(items)
    return front_title or title, blocks


# -- HTML ------------------------------------------------------------------

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
# Paragraph-like elements are separated by a blank line, line-like ones start
# a new line; table cells are separated by a space.
_PARAGRAPH_TAGS = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "footer", "aside", "nav",
        "ul", "ol", "dl", "table", "blockquote", "pre", "figure", "form", "address",
        "details",
    }
)  # fmt: skip
_LINE_TAGS = frozenset({"li", "dt", "dd", "tr", "br", "hr", "figcaption", "summary"})
_CELL_TAGS = frozenset({"td", "th"})
_HEADING_TAGS = {f"h{n}": n for n in range(1, 7)}


class _OutlineParser(HTMLParser):
    """Collects headings and text; everything inside skipped tags is dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[_Heading | str] = []
        self.title = ""
        self._skip_depth = 0
        self._in_title = False
        self._heading_level: int | None = None
        self._heading: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _HEADING_TAGS:
            self._flush_text()
            self._heading_level = _HEADING_TAGS[tag]
            self._heading = []
        elif tag in _PARAGRAPH_TAGS:
            self._text.append("\n\n")
        elif tag in _LINE_TAGS:
            self._text.append("\n")
        elif tag in _CELL_TAGS:
            self._text.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _LINE_TAGS:
            self._text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _HEADING_TAGS and self._heading_level is not None:
            heading = " ".join("".join(self._heading).split())
            if heading:
                self.items.append(_Heading(self._heading_level, heading))
            self._heading_level = None
        elif tag in _PARAGRAPH_TAGS:
            self._text.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._skip_depth:
            return
        elif self._heading_level is not None:
            self._heading.append(data)
        else:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self._flush_text()

    def _flush_text(self) -> None:
        if self._text:
            self.items.append("".join(self._text))
            self._text = []


def _load_html(text: str) -> tuple[str, tuple[Block, ...]]:
    parser = _OutlineParser()
    parser.feed(text)
    parser.close()
    first_h1 = next((h.text for h in parser.items if isinstance(h, _Heading) and h.level == 1), "")
    _, blocks = _sectioned_blocks(parser.items)
    title = " ".join(parser.title.split()) or first_h1
    if not title:
        title = next((h.text for h in parser.items if isinstance(h, _Heading)), "")
    return title, blocks
