"""Word, PowerPoint and Excel files (Office Open XML) as text blocks.

- ``.docx`` (python-docx): paragraphs and tables in document order; Word's
  heading styles ("Heading 1".."Heading 9", "Title") become the section path,
  as Markdown headings do. Word has no fixed pages, so chunks carry none.
- ``.pptx`` (python-pptx): one block per slide, ``page`` = slide number
  (``unit = "slide"``), section = the slide's title; text boxes top to bottom,
  grouped shapes, tables and the speaker notes.
- ``.xlsx`` (openpyxl, read-only, cached values): one block per sheet,
  ``page`` = the sheet's position (``unit = "sheet"``), section = its name.

Tables become "header: value" rows (``ingest.tables``). The three formats are
zip files of XML, so each is checked before it is opened: a file that is not
a zip (an encrypted Office file is an OLE container, so is a legacy .doc), a
zip whose parts would unpack to more than ``MAX_UNPACKED_RATIO`` times the
file size or past ``MAX_UNPACKED_MB`` (a zip bomb), or one over
``MAX_CELLS`` cells is refused with the reason. Nothing is executed: macros
are never run, and a macro-enabled file is read like any other.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

from chatbot.errors import IngestionError, error_detail
from chatbot.text import normalise_whitespace
from ingest.blocks import Block, Heading, Loaded, sectioned_blocks
from ingest.tables import cell_text, table_text

OFFICE_SUFFIXES = frozenset({".docx", ".pptx", ".xlsx"})
MAX_UNPACKED_MB = 512
MAX_UNPACKED_RATIO = 200
MAX_CELLS = 1_000_000
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PROGRAMS = {".docx": "Word", ".pptx": "PowerPoint", ".xlsx": "Excel"}


def load_office(data: bytes, suffix: str, source: str) -> Loaded:
    """(title, blocks, page count) of an Office file; IngestionError when unusable."""
    program = _PROGRAMS[suffix]
    _check_container(data, suffix, source, program)
    reader: Callable[[bytes, str], Loaded] = {
        ".docx": _load_docx,
        ".pptx": _load_pptx,
        ".xlsx": _load_xlsx,
    }[suffix]
    try:
        return reader(data, source)
    except (IngestionError, MemoryError, RecursionError):
        raise
    except Exception as exc:  # the libraries raise KeyError, lxml errors, ...
        raise IngestionError(
            source,
            f"the {program} file is damaged or of another kind ({error_detail(exc)})",
            f"open it in {program} and save it again as {suffix}",
        ) from exc


def _check_container(data: bytes, suffix: str, source: str, program: str) -> None:
    if data.startswith(_OLE_MAGIC):
        raise IngestionError(
            source,
            f"the file is password-protected or in the old binary {program} format, not {suffix}",
            f"remove the password, or open it in {program} and save it as {suffix}",
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise IngestionError(
            source,
            f"the file is not a valid {program} file (not a readable zip: {exc})",
            f"open it in {program} and save it again as {suffix}",
        ) from exc
    # zipfile inflates a member's whole compressed data before cutting it to
    # the size it declares; deflate never grows data by more than a fraction,
    # so more compressed bytes than declared ones is a lie, and maybe a bomb.
    lying = [m.filename for m in members if m.compress_size > m.file_size * 65 // 64 + 1024]
    if lying:
        raise IngestionError(
            source,
            f"the file is damaged: part {lying[0][:80]!r} holds more data than it declares",
            f"open it in {program} and save it again as {suffix}; check where it came from",
        )
    unpacked = sum(m.file_size for m in members)
    limit = min(MAX_UNPACKED_MB * 1024 * 1024, max(len(data), 1 << 20) * MAX_UNPACKED_RATIO)
    if unpacked > limit:
        raise IngestionError(
            source,
            f"the file would unpack to {unpacked / 1024 / 1024:.0f} MB from "
            f"{len(data) / 1024 / 1024:.1f} MB (a zip bomb, or far too large)",
            "check where the file came from; split a genuinely large document",
        )


# -- Word ------------------------------------------------------------------


def _heading_level(style_name: str) -> int | None:
    name = style_name.strip().lower()
    if name == "title":
        return 1
    if name.startswith("heading "):
        digits = name.removeprefix("heading ").strip()
        if digits.isdigit() and 1 <= int(digits) <= 9:
            return int(digits)
    return None


def _docx_items(document: Any) -> Iterator[Heading | str]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = document.element.body
    for element in body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(element, document)
            text = normalise_whitespace(paragraph.text)
            if not text:
                continue
            style = paragraph.style.name if paragraph.style is not None else ""
            level = _heading_level(style or "")
            yield Heading(level, text) if level is not None else text
        elif tag == "tbl":
            text = table_text(_table_rows(Table(element, document)))
            if text:
                yield text


def _table_rows(table: Any) -> list[list[str]]:
    """The table's cell texts. python-docx gives a merged cell once per grid
    cell it spans; only its first appearance in a row keeps the text (equal
    text in cells that are not merged stays)."""
    rows = []
    for row in table.rows:
        texts: list[str] = []
        previous = None
        for cell in row.cells:
            texts.append("" if previous is not None and cell._tc is previous._tc else cell.text)
            previous = cell
        rows.append(texts)
    return rows


def _load_docx(data: bytes, source: str) -> Loaded:
    import docx

    document = docx.Document(io.BytesIO(data))
    title_prop = normalise_whitespace(document.core_properties.title or "")
    title, blocks = sectioned_blocks(_docx_items(document))
    return title_prop or title, blocks, 0


# -- PowerPoint ------------------------------------------------------------


def _shape_texts(shapes: Any, skip: int | None = None) -> Iterator[tuple[int, int, str]]:
    """(top, left, text) of every text frame and table, groups included;
    ``skip`` is the shape id of the title, which leads the slide already."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if skip is not None and shape.shape_id == skip:
            continue
        top, left = shape.top or 0, shape.left or 0
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
            yield top, left, table_text(rows)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            lines = [p.text for p in shape.text_frame.paragraphs]
            yield top, left, "\n".join(line for line in lines if line.strip())


def _load_pptx(data: bytes, source: str) -> Loaded:
    from pptx import Presentation

    deck = Presentation(io.BytesIO(data))
    blocks: list[Block] = []
    slides = list(deck.slides)
    for number, slide in enumerate(slides, start=1):
        title_shape = slide.shapes.title
        slide_title = normalise_whitespace(title_shape.text) if title_shape is not None else ""
        skip = title_shape.shape_id if title_shape is not None else None
        texts = sorted(_shape_texts(slide.shapes, skip), key=lambda t: t[:2])
        parts = [slide_title] + [t for _, _, t in texts]
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                parts.append(f"Notes: {notes.text}")
        text = normalise_whitespace("\n\n".join(p for p in parts if p.strip()))
        if text:
            section = slide_title.replace("\n", " ")
            blocks.append(Block(text=text, page=number, section=section, unit="slide"))
    title = normalise_whitespace(deck.core_properties.title or "")
    if not title and blocks and blocks[0].page == 1:
        title = blocks[0].section
    return title, tuple(blocks), len(slides)


# -- Excel -----------------------------------------------------------------


def _load_xlsx(data: bytes, source: str) -> Loaded:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        blocks: list[Block] = []
        cells = 0
        sheets = book.worksheets
        for number, sheet in enumerate(sheets, start=1):
            rows: list[tuple[object, ...]] = []
            # The stored dimension can be stale or a lie: read what is there.
            sheet.reset_dimensions()
            for row in sheet.iter_rows(values_only=True):
                cells += max(len(row), 1)  # empty rows cost time too
                if cells > MAX_CELLS:
                    raise IngestionError(
                        source,
                        f"the workbook has more than {MAX_CELLS:,} cells (sheet "
                        f"{sheet.title!r} reached the limit)",
                        "split the workbook, or remove sheets that are data rather than guidance",
                    )
                rows.append(row)
            text = normalise_whitespace(table_text(rows))
            if text:
                name = cell_text(sheet.title)
                blocks.append(
                    Block(text=f"{name}\n\n{text}", page=number, section=name, unit="sheet")
                )
        title = normalise_whitespace(book.properties.title or "")
        return title, tuple(blocks), len(sheets)
    finally:
        book.close()


__all__ = ["OFFICE_SUFFIXES", "load_office"]
