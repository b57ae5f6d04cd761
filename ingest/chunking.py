"""Cut loaded documents into token-bounded chunks with stable ids.

Sizes are measured in the embedder's own tokens, because the embedder is what
truncates: all-MiniLM-L6-v2 reads at most 256 word-pieces (special tokens
included), so a chunk longer than that would be indexed by its first part
only. Splitting prefers paragraph, line and sentence boundaries, English and
Chinese alike (LangChain's recursive splitter does the merging).

Chunks never cross a block (a PDF page, a Markdown section), so each keeps one
page number and one section. A chunk's id is derived from its source, its
position and a hash of its text: re-ingesting an unchanged file reproduces
the same ids, so upserts replace instead of duplicating.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace

from langchain_text_splitters import RecursiveCharacterTextSplitter

from chatbot.domain import Chunk, DocumentContext
from chatbot.text import detect_language, terms
from ingest.loaders import Block, LoadedDocument

# Bump when the splitting rules change, so sync re-chunks every file.
CHUNKER_VERSION = 2

# Tried in order: paragraphs, lines, sentences, clauses, words, characters.
# Loaders NFKC-normalise text, which turns full-width CJK ！？；， into ASCII
# with no space after them, hence the bare "!", "?", ";" (the spaced forms
# come first so English splits after the space). A bare "," comes after " "
# so that "800,000" is not cut while a space is available.
SEPARATORS = [
    "\n\n",
    "\n",
    "。",
    "！",
    "？",
    "；",
    ". ",
    "! ",
    "? ",
    "; ",
    "!",
    "?",
    ";",
    "，",
    "、",
    ", ",
    " ",
    ",",
    "",
]


def chunk_id(source: str, position: int, content_hash: str) -> str:
    """Stable id: the same text at the same place in the same file, same id."""
    key = f"{source}\x00{position}\x00{content_hash}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


class Chunker:
    """Splits ``LoadedDocument`` blocks into ``Chunk`` values.

    ``token_length`` counts model tokens without special tokens; chunks hold at
    most ``chunk_tokens`` of them and neighbours share about ``chunk_overlap``.
    """

    def __init__(
        self, token_length: Callable[[str], int], chunk_tokens: int, chunk_overlap: int
    ) -> None:
        if chunk_tokens <= 0:
            raise ValueError("chunk_tokens must be positive")
        if not 0 <= chunk_overlap < chunk_tokens:
            raise ValueError("chunk_overlap must be >= 0 and smaller than chunk_tokens")
        self._chunk_tokens = chunk_tokens
        self._chunk_overlap = chunk_overlap
        # The splitter measures the same pieces many times while merging.
        self._length = functools.lru_cache(maxsize=65536)(token_length)
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_tokens,
            chunk_overlap=chunk_overlap,
            length_function=self._length,
            separators=SEPARATORS,
            keep_separator="end",
            strip_whitespace=True,
        )

    def signature(self) -> str:
        """What the index records, so a change of chunking re-chunks every file."""
        return json.dumps(
            {
                "version": CHUNKER_VERSION,
                "chunk_tokens": self._chunk_tokens,
                "chunk_overlap": self._chunk_overlap,
            },
            sort_keys=True,
        )

    def chunk(self, doc: LoadedDocument, context: DocumentContext | None = None) -> list[Chunk]:
        """The document's chunks, each carrying ``context`` (its identity)."""
        context = context or DocumentContext()
        chunks: list[Chunk] = []
        for block in doc.blocks:
            title, block_context = _part_of(doc, block, context)
            for start, text in self._split_block(block):
                if not terms(text):
                    continue  # page numbers, rules, stray punctuation
                content_hash = hashlib.sha256(text.encode()).hexdigest()
                position = len(chunks)
                chunks.append(
                    Chunk(
                        id=chunk_id(doc.source, position, content_hash),
                        text=text,
                        source=doc.source,
                        title=title,
                        page=block.page,
                        section=_section_at(block, start),
                        language=detect_language(text),
                        content_hash=content_hash,
                        file_hash=doc.file_hash,
                        position=position,
                        context=block_context,
                    )
                )
        return chunks

    def _split_block(self, block: Block) -> list[tuple[int, str]]:
        """(offset in block.text, chunk text) pairs, each within the token limit."""
        pieces: list[str] = []
        for piece in self._splitter.split_text(block.text):
            pieces.extend(self._enforce_limit(piece))
        located: list[tuple[int, str]] = []
        cursor = 0
        for piece in pieces:
            # Pieces come in order and overlap, so search from the last start.
            found = block.text.find(piece, cursor)
            start = found if found >= 0 else cursor
            located.append((start, piece))
            cursor = start + 1 if found >= 0 else cursor
        return located

    def _enforce_limit(self, piece: str) -> list[str]:
        # Word-piece counts are not exactly additive, so a merged chunk can end
        # a token or two over; cut those again, without overlap, until they fit.
        if self._length(piece) <= self._chunk_tokens:
            return [piece]
        size = max(1, int(self._chunk_tokens * 0.8))
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=size,
            chunk_overlap=0,
            length_function=self._length,
            separators=SEPARATORS,
            keep_separator="end",
        )
        out: list[str] = []
        for part in splitter.split_text(piece):
            if self._length(part) <= self._chunk_tokens or len(part) <= 1:
                out.append(part)
            else:
                half = len(part) // 2
                out.extend(self._enforce_limit(part[:half]))
                out.extend(self._enforce_limit(part[half:]))
        return out


def _part_of(
    doc: LoadedDocument, block: Block, context: DocumentContext
) -> tuple[str, DocumentContext]:
    """The title and context a block's chunks carry: the document's, with what
    the block says about itself (its page unit, OCR, being an attachment)."""
    if not (block.unit or block.part or block.ocr_confidence is not None):
        return doc.title, context
    title = doc.title
    label = context.label
    attachment_of = ""
    if block.part:
        attachment_of = context.label or doc.title
        title = block.part
        label = f"{block.part} · attachment to {attachment_of}"
    ocr = ""
    if block.ocr_confidence is not None:
        ocr = "ocr-low" if block.ocr_low else "ocr"
    return title, replace(
        context,
        label=label,
        unit=block.unit,
        attachment_of=attachment_of,
        ocr=ocr,
        ocr_confidence=f"{block.ocr_confidence:.0f}" if block.ocr_confidence is not None else "",
    )


def _section_at(block: Block, start: int) -> str:
    """The heading path in force at ``start``: the block's own, refined by the
    last heading found in the block at or before that offset (PDF pages)."""
    section = block.section
    for offset, heading in block.headings:
        if offset > start:
            break
        section = heading
    return section
