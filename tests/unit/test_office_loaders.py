"""Word, PowerPoint and Excel files (ingest/office.py) and tables as text
(ingest/tables.py), built in memory with python-docx, python-pptx, openpyxl."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import docx
import openpyxl
import pytest
from pptx import Presentation
from pptx.util import Inches

import ingest.office
from ingest.tables import MAX_CELL_CHARS, cell_text, table_lines, table_text
from tests.builders import load_failure, load_file
from tests.msg_writer import build_cfb


def saved(document: object) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)  # type: ignore[attr-defined]
    return buffer.getvalue()


def fill(table: object, rows: Sequence[Sequence[str]]) -> None:
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value  # type: ignore[attr-defined]


# -- Word ----------------------------------------------------------------------


def policy_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = "GenAI Records Policy"
    document.add_paragraph("This policy sets how long prompts are kept.")
    document.add_heading("Scope", 1)
    document.add_paragraph("It applies to all staff.")
    document.add_heading("Retention", 2)
    document.add_paragraph("Prompts are kept for seven years.")
    rows = [["Business unit", "Daily prompt limit", "Owner"], ["Treasury", "80", "Ops"]]
    rows.append(["Retail", "40", "Ops"])
    fill(document.add_table(rows=3, cols=3), rows)
    document.add_heading("Exceptions", 3)
    document.add_paragraph("The CIO may grant exceptions.")
    document.add_heading("Contacts", 1)
    document.add_paragraph("Write to the records office.")
    return saved(document)


def test_docx_heading_styles_become_section_paths(tmp_path: Path) -> None:
    path = tmp_path / "records.docx"
    path.write_bytes(policy_docx())
    doc = load_file(path)
    assert [b.section for b in doc.blocks] == [
        "",
        "Scope",
        "Scope > Retention",
        "Scope > Retention > Exceptions",
        "Contacts",
    ]
    assert doc.blocks[0].text == "This policy sets how long prompts are kept."
    assert doc.blocks[2].text.startswith("Retention\n\nPrompts are kept for seven years.")
    assert all(b.page is None and b.unit == "" for b in doc.blocks)
    assert doc.pages == 0


def test_docx_core_title_is_the_title(tmp_path: Path) -> None:
    path = tmp_path / "records.docx"
    path.write_bytes(policy_docx())
    assert load_file(path).title == "GenAI Records Policy"


def test_docx_without_core_title_takes_its_first_heading(tmp_path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = ""
    document.add_heading("Usage Limits", 1)
    document.add_paragraph("Eighty prompts a day.")
    path = tmp_path / "limits.docx"
    path.write_bytes(saved(document))
    doc = load_file(path)
    assert doc.title == "Usage Limits"
    assert [(b.section, b.text) for b in doc.blocks] == [("", "Eighty prompts a day.")]


def test_docx_table_becomes_header_value_lines(tmp_path: Path) -> None:
    path = tmp_path / "records.docx"
    path.write_bytes(policy_docx())
    text = load_file(path).blocks[2].text
    assert text.endswith(
        "Business unit | Daily prompt limit | Owner\n"
        "Business unit: Treasury; Daily prompt limit: 80; Owner: Ops\n"
        "Business unit: Retail; Daily prompt limit: 40; Owner: Ops"
    )


def test_docx_merged_cells_are_not_duplicated(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    fill(table, [["Use", "Permitted", "Approver"], ["Drafting", "", ""]])
    table.cell(1, 1).merge(table.cell(1, 2)).text = "Only with CIO approval"
    path = tmp_path / "merged.docx"
    path.write_bytes(saved(document))
    text = load_file(path).blocks[0].text
    assert text.count("Only with CIO approval") == 1
    assert "Use: Drafting; Permitted: Only with CIO approval" in text


def test_docx_equal_neighbouring_cells_are_both_kept(tmp_path: Path) -> None:
    document = docx.Document()
    fill(
        document.add_table(rows=2, cols=3),
        [["Use", "Permitted", "Needs approval"], ["Drafting", "Yes", "Yes"]],
    )
    path = tmp_path / "matrix.docx"
    path.write_bytes(saved(document))
    assert "Use: Drafting; Permitted: Yes; Needs approval: Yes" in load_file(path).blocks[0].text


# -- PowerPoint ----------------------------------------------------------------


def committee_pptx() -> bytes:
    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "AI Committee"
    first.placeholders[1].text = "Charter and members"
    first.notes_slide.notes_text_frame.text = "Mention the quorum of five."
    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Usage Limits"
    low = second.shapes.add_textbox(Inches(1), Inches(6), Inches(4), Inches(1))
    low.text_frame.text = "Reviewed every quarter."
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(1)).table
    fill(table, [["Business unit", "Daily prompt limit"], ["Treasury", "80"]])
    group = second.shapes.add_group_shape()
    inner = group.shapes.add_textbox(Inches(1), Inches(4), Inches(4), Inches(1))
    inner.text_frame.text = "Grouped: limits apply per person"
    return saved(deck)


def test_pptx_one_block_per_slide_with_number_unit_and_title(tmp_path: Path) -> None:
    path = tmp_path / "deck.pptx"
    path.write_bytes(committee_pptx())
    doc = load_file(path)
    assert doc.pages == 2
    assert [(b.page, b.unit, b.section) for b in doc.blocks] == [
        (1, "slide", "AI Committee"),
        (2, "slide", "Usage Limits"),
    ]
    assert doc.title == "AI Committee"  # no core title: the first slide's


def test_pptx_slide_text_tables_groups_and_notes(tmp_path: Path) -> None:
    path = tmp_path / "deck.pptx"
    path.write_bytes(committee_pptx())
    first, second = load_file(path).blocks
    assert first.text == "AI Committee\n\nCharter and members\n\nNotes: Mention the quorum of five."
    assert second.text.count("Usage Limits") == 1, "the title leads the slide, once"
    assert second.text.startswith("Usage Limits\n\n")
    assert "Business unit: Treasury; Daily prompt limit: 80" in second.text
    assert "Grouped: limits apply per person" in second.text
    # shapes top to bottom: the table (2 in), the group (4 in), the low text box (6 in)
    order = [second.text.index(s) for s in ("Business unit:", "Grouped:", "Reviewed every")]
    assert order == sorted(order)


# -- Excel -----------------------------------------------------------------------


def limits_xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Limits"
    sheet.append(["Business unit", "Daily prompt limit", "Share"])
    sheet.append(["Treasury", 80.0, 0.25])
    sheet.append(["Retail", 40, None])
    numbers = book.create_sheet("Figures")
    numbers.append([2024, 1.0, 2.5])
    numbers.append([2025, 3, 4])
    return saved(book)


def test_xlsx_one_block_per_sheet(tmp_path: Path) -> None:
    path = tmp_path / "limits.xlsx"
    path.write_bytes(limits_xlsx())
    doc = load_file(path)
    assert doc.pages == 2
    assert [(b.page, b.unit, b.section) for b in doc.blocks] == [
        (1, "sheet", "Limits"),
        (2, "sheet", "Figures"),
    ]
    assert doc.title == "limits"  # no workbook title: the file name


def test_xlsx_header_row_and_numbers(tmp_path: Path) -> None:
    path = tmp_path / "limits.xlsx"
    path.write_bytes(limits_xlsx())
    limits, figures = load_file(path).blocks
    assert limits.text == (
        "Limits\n\n"
        "Business unit | Daily prompt limit | Share\n"
        "Business unit: Treasury; Daily prompt limit: 80; Share: 0.25\n"
        "Business unit: Retail; Daily prompt limit: 40"
    )
    # a first row of numbers is no header: plain rows
    assert figures.text == "Figures\n\n2024 | 1 | 2.5\n2025 | 3 | 4"


def test_xlsx_over_the_cell_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.office, "MAX_CELLS", 5)
    path = tmp_path / "limits.xlsx"
    path.write_bytes(limits_xlsx())
    error = load_failure(path)
    assert "more than 5 cells" in error.reason and "'Limits'" in error.reason
    assert "split the workbook" in error.hint


# -- files that cannot be used ----------------------------------------------------


@pytest.mark.parametrize(("suffix", "program"), [(".docx", "Word"), (".pptx", "PowerPoint")])
def test_not_a_zip(tmp_path: Path, suffix: str, program: str) -> None:
    path = tmp_path / f"notes{suffix}"
    path.write_bytes(b"just some text, not an Office file")
    error = load_failure(path)
    assert f"not a valid {program} file" in error.reason
    assert f"save it again as {suffix}" in error.hint


def test_ole_container_named_docx_is_password_protected(tmp_path: Path) -> None:
    # An encrypted Office file is an OLE compound file holding the encrypted package.
    path = tmp_path / "secret.docx"
    path.write_bytes(build_cfb({"EncryptionInfo": b"\x04\x00\x04\x00", "EncryptedPackage": b"x"}))
    error = load_failure(path)
    assert "password-protected" in error.reason and "old binary Word format" in error.reason
    assert "remove the password" in error.hint


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO(policy_docx())
    megabyte = bytes(1 << 20)
    with (
        zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/media/zeros.bin", "w") as part,
    ):
        for _ in range(300):
            part.write(megabyte)
    path = tmp_path / "bomb.docx"
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size < 2 << 20
    error = load_failure(path)
    assert re.search(r"would unpack to 30\d MB from 0\.\d MB \(a zip bomb", error.reason)


def test_corrupt_docx_with_broken_xml(tmp_path: Path) -> None:
    source = zipfile.ZipFile(io.BytesIO(policy_docx()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                data = data[: len(data) // 2]  # cut mid-element
            archive.writestr(info, data)
    path = tmp_path / "broken.docx"
    path.write_bytes(buffer.getvalue())
    error = load_failure(path)
    assert error.reason.startswith("the Word file is damaged or of another kind (")
    assert "open it in Word and save it again as .docx" in error.hint


# -- tables ----------------------------------------------------------------------


def test_table_lines_repeat_the_headers_on_each_row() -> None:
    rows = [["Unit", "Limit"], ["Treasury", "80"], ["Retail", ""]]
    assert table_lines(rows) == ["Unit | Limit", "Unit: Treasury; Limit: 80", "Unit: Retail"]


def test_table_lines_drop_empty_rows_and_trailing_columns() -> None:
    rows: list[list[object]] = [
        [None, None, None],
        ["Unit", "Limit", None],
        ["", "", ""],
        ["Treasury", 80.0, None],
    ]
    assert table_lines(rows) == ["Unit | Limit", "Unit: Treasury; Limit: 80"]


@pytest.mark.parametrize(
    "header",
    [
        ["Unit", ""],  # an empty cell
        ["Unit", "2024"],  # a number
        ["Unit", "12.5%"],
        ["Only one"],  # a single column
    ],
)
def test_table_lines_without_a_header_row_are_plain(header: list[str]) -> None:
    rows = [header, ["Treasury", "80"][: len(header)]]
    assert table_lines(rows) == [" | ".join(c for c in r if c) for r in rows]


def test_table_lines_of_a_header_alone_and_of_nothing() -> None:
    assert table_lines([["Unit", "Limit"]]) == ["Unit | Limit"]
    assert table_lines([]) == []
    assert table_lines([[None, ""]]) == []
    assert table_text([["a", "b"], ["1", "2"]]) == "a | b\na: 1; b: 2"


def test_cell_text() -> None:
    assert cell_text(None) == ""
    assert cell_text(80.0) == "80"
    assert cell_text(0.25) == "0.25"
    assert cell_text(7) == "7"
    assert cell_text("  two\n lines\tand  tabs ") == "two lines and tabs"
    assert len(cell_text("x" * (MAX_CELL_CHARS + 10))) == MAX_CELL_CHARS


def test_a_part_holding_more_data_than_it_declares_is_refused(tmp_path: Path) -> None:
    """zipfile would inflate all of it before cutting it to the declared size."""
    source = zipfile.ZipFile(io.BytesIO(policy_docx()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                data += b" " * 3_000_000
            archive.writestr(info, data)
    raw = bytearray(buffer.getvalue())
    # shrink the declared size of document.xml in its central-directory entry
    entry = raw.rfind(b"PK\x01\x02", 0, raw.rfind(b"word/document.xml"))
    raw[entry + 24 : entry + 28] = (2048).to_bytes(4, "little")
    error = load_failure(write_bytes(tmp_path / "liar.docx", bytes(raw)))
    assert "holds more data than it declares" in error.reason


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_rows_past_a_stale_sheet_dimension_are_read(tmp_path: Path) -> None:
    source = zipfile.ZipFile(io.BytesIO(limits_xlsx()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:A1"/>', data)
            archive.writestr(info, data)
    doc = load_file(write_bytes(tmp_path / "stale.xlsx", buffer.getvalue()))
    full = load_file(write_bytes(tmp_path / "fresh.xlsx", limits_xlsx()))
    assert [b.text for b in doc.blocks] == [b.text for b in full.blocks]
