"""Read corpus files into plain text blocks with their page and section.

This module picks the loader by the file's suffix; each returns (title,
blocks, pages), made into a ``LoadedDocument`` (``ingest.blocks``) here:

- PDF (``ingest.pdf``): one block per page, 1-based page numbers, with the
  headings found on it; ruled tables as "header: value" rows, pages without
  a text layer read by OCR (``ingest.ocr``).
- Images, .png, .jpg, .tif (``ingest.images``): OCR, one block per frame.
- Word, PowerPoint, Excel (``ingest.office``): sections from Word's headings,
  one block per slide or sheet; tables as "header: value" rows.
- E-mail, .eml and .msg (``ingest.mail``): envelope and body, and each
  supported attachment as a part of its own (read by this module again).
- Markdown and HTML (``ingest.markup``): one block per heading section, with
  the heading path ("Part > Section"); scripts and styles dropped.
- Plain text: one block.

A file that cannot be used raises ``IngestionError`` with the reason and what
the operator can do about it. Nothing here guesses silently: a file over the
size limit is refused before it is read, text that is not UTF-8 is rejected
rather than decoded with a codec that might garble it, and so is text with
NUL bytes (binary data, or UTF-16 that happens to decode). A ``MemoryError``
is let through: the caller (``ingest.isolation``) reports it as the memory
limit it is, not as a damaged file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from chatbot.errors import IngestionError, error_detail
from ingest.blocks import SECTION_SEPARATOR, Block, Loaded, LoadedDocument, plain_blocks
from ingest.images import IMAGE_SUFFIXES, load_image
from ingest.mail import MAIL_SUFFIXES, load_mail
from ingest.markup import load_html, load_markdown
from ingest.ocr import OcrOptions
from ingest.office import OFFICE_SUFFIXES, load_office
from ingest.pdf import PDF_SUFFIXES, load_pdf

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
        title, blocks, pages = load_bytes(
            data, suffix, source, ocr or OcrOptions(), file_hash=file_hash
        )
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
    data: bytes,
    suffix: str,
    source: str,
    ocr: OcrOptions,
    depth: int = 0,
    *,
    file_hash: str | None = None,
) -> Loaded:
    """(title, blocks, pages) of a file's bytes, by its suffix; a mail's
    attachments come back here at ``depth`` + 1. ``file_hash``, the sha256 of
    ``data`` when the caller has it, keys the OCR cache (else it is worked
    out when a page needs OCR)."""
    if suffix in PDF_SUFFIXES:
        return load_pdf(data, source, ocr, file_hash)
    if suffix in OFFICE_SUFFIXES:
        return load_office(data, suffix, source)
    if suffix in IMAGE_SUFFIXES:
        return load_image(data, source, ocr, file_hash)
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
        raise IngestionError(
            source,
            f"the {suffix[1:].upper()} markup could not be parsed ({error_detail(exc, 200)})",
            "check the file opens normally; re-save it, or convert it to plain text",
        ) from exc
    return title, blocks, 0


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
