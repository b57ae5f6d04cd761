"""What a loader produces: a document as blocks of text with their page and
section, and the heading-path logic that Markdown and HTML share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chatbot.text import normalise_whitespace

SECTION_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class Block:
    """A run of text that chunks never cross (a PDF page, a Markdown section,
    a slide, a sheet).

    ``section`` is the heading path in force where the block starts;
    ``headings`` lists (character offset, heading) for headings found inside
    the block's text, so a chunk can take the last one at or before its start.
    ``unit`` says what ``page`` counts ("" for pages, ``"slide"``, ``"sheet"``);
    ``part`` names a part of the file with a title of its own, a mail's
    attachment ("" for the file itself); ``ocr_confidence`` is the mean word
    confidence (0-100) of a block read by OCR, None for text the file holds,
    and ``ocr_low`` says it is under the configured minimum.
    """

    text: str
    page: int | None = None
    section: str = ""
    headings: tuple[tuple[int, str], ...] = ()
    unit: str = ""
    part: str = ""
    ocr_confidence: float | None = None
    ocr_low: bool = False


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    source: str  # path relative to the corpus root, POSIX separators
    title: str
    file_hash: str  # sha256 of the bytes that were read
    blocks: tuple[Block, ...]
    pages: int = 0  # page, slide or sheet count; 0 for formats without pages
    ocr_pages: int = 0  # pages read by OCR


Loaded = tuple[str, tuple[Block, ...], int]
"""What each format's loader returns: (title, blocks, page count; 0 for
formats without pages). ``ingest.loaders`` makes it a ``LoadedDocument``."""


# -- outlines: Markdown and HTML share the heading-path logic --------------


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str


def sectioned_blocks(items: Iterable[Heading | str]) -> tuple[str, tuple[Block, ...]]:
    """Group text under its heading path; returns (title, blocks).

    A document whose only level-1 heading comes first is taken to be titled by
    it: the title is stored on every chunk already, so it is left out of the
    section paths rather than repeated in each.
    """
    entries = list(items)
    headings = [e for e in entries if isinstance(e, Heading)]
    title = headings[0].text if headings else ""
    first_is_title = False
    if headings and headings[0].level == 1:
        before = entries[: entries.index(headings[0])]
        first_is_title = not any(str(e).strip() for e in before) and (
            sum(1 for h in headings if h.level == 1) == 1
        )
    stack: list[Heading] = []
    blocks: list[Block] = []
    body: list[str] = []
    current: Heading | None = None

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
        if isinstance(entry, Heading):
            flush()
            while stack and stack[-1].level >= entry.level:
                stack.pop()
            stack.append(entry)
            current = entry
        else:
            body.append(entry)
    flush()
    return title, tuple(blocks)


def plain_blocks(text: str) -> tuple[Block, ...]:
    cleaned = normalise_whitespace(text)
    return (Block(text=cleaned),) if cleaned else ()
