"""Hostile and malformed corpus files for the ingestion fuzz test (issue 15).

One module per format (``pdf``, ``text``, ``office``, ``mail``, ``images``),
each a set of builders that add files through ``corpus.CorpusWriter``.

``generate(folder, seed=N)`` writes 900 bad files over every supported format
(PDF, Markdown, HTML, text; Word, PowerPoint, Excel; .eml and Outlook .msg;
PNG, JPEG, TIFF and scanned PDFs, read by OCR) and returns what it wrote, each
file with its kind and what ingestion must do with it:

- ``fail``: reported as FAILED with a reason and a hint, never indexed;
- ``may``: indexed or reported as failed (a PDF with JavaScript but real text
  may well index), never missing from the report, never a crash;
- ``index``: a sound document whose only oddity is its name, its place (a
  link inside the corpus, a file just under the size limit) or what it carries
  (macros, a broken attachment): it must index;
- ``skip``: not a supported type (or a link to a folder): reported as skipped.

A file may also name words its indexed text must hold (``holds``: a mail's
note that an attachment was not read) or never hold (``lacks``: what an XML
entity would expand to).

Everything is built here, byte by byte (PDFs by hand, with computed xref
offsets, or with pypdf's writer for encryption, scripts and attachments; zips
by hand; OLE compound files and Outlook messages with ``tests.msg_writer``,
then damaged by hand; Office files by their libraries, then zipped again by
hand with fixed dates; images with Pillow), from a seeded
``random.Random``: the same seed writes the same bytes (but for pypdf's
random file ids, and the Office files that name the outside folder's path).
Files that may index carry one short sentence each, so indexing them stays
cheap. Tesseract reads only a handful: small images and one small scanned
page; the other images and scans fail before OCR.

Run ``python -m tests.fuzz OUTDIR --seed N`` to write a corpus for a
manual run or a benchmark; it prints the counts by kind.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from tests.fuzz.corpus import CorpusWriter, FuzzCorpus
from tests.fuzz.images import images, pdf_scanned
from tests.fuzz.mail import mail_attachments, mail_broken, mail_msg, mail_structure
from tests.fuzz.office import (
    office_bitflip,
    office_bombs,
    office_cells,
    office_macros,
    office_ole,
    office_structure,
    office_truncated,
    office_xml,
)
from tests.fuzz.pdf import (
    pdf_active,
    pdf_bitflip,
    pdf_bombs,
    pdf_deep,
    pdf_encrypted,
    pdf_loops,
    pdf_malformed_objects,
    pdf_many_pages,
    pdf_not_pdf,
    pdf_truncated,
    pdf_xref,
)
from tests.fuzz.text import (
    html_pathological,
    links,
    markdown_pathological,
    markup_soup,
    near_limit,
    odd_names,
    special_files,
    text_binary,
    text_empty,
    text_encodings,
    text_huge_lines,
    text_nul,
)

BUILDERS: tuple[Callable[[CorpusWriter], None], ...] = (
    pdf_truncated,
    pdf_bitflip,
    pdf_xref,
    pdf_loops,
    pdf_deep,
    pdf_bombs,
    pdf_many_pages,
    pdf_active,
    pdf_encrypted,
    pdf_not_pdf,
    pdf_malformed_objects,
    text_encodings,
    text_nul,
    text_binary,
    text_empty,
    text_huge_lines,
    near_limit,
    markdown_pathological,
    html_pathological,
    markup_soup,
    odd_names,
    links,
    special_files,
    office_truncated,
    office_bitflip,
    office_structure,
    office_xml,
    office_bombs,
    office_ole,
    office_cells,
    office_macros,
    mail_broken,
    mail_structure,
    mail_attachments,
    mail_msg,
    images,
    pdf_scanned,
)


def generate(
    folder: Path, *, seed: int = 0, max_file_mb: float = 2.0, outside: Path | None = None
) -> FuzzCorpus:
    """Write the hostile corpus into ``folder`` (created; should be empty) and
    its link targets into ``outside`` (default: a sibling ``<folder>-outside``).
    ``max_file_mb`` is the ingestion size limit the near-limit files are cut
    around. Deterministic for a given seed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    outside = Path(outside) if outside else folder.with_name(folder.name + "-outside")
    corpus = CorpusWriter(folder, outside, random.Random(seed), max_file_mb)
    for build in BUILDERS:
        build(corpus)
    return FuzzCorpus(folder, outside, tuple(corpus.files), tuple(corpus.not_made))
