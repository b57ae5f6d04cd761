"""Ruled tables on PDF pages come out as "header: value" rows, in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

import ingest.pdf_tables as pdf_tables
from ingest.loaders import load_document

HEADER = ("Business unit", "Daily prompt limit", "Max document pages")
ROWS = [("Retail Banking", "200", "50"), ("Treasury", "80", "30"), ("Wealth", "120", "60")]


def table_pdf(path: Path, *, ruled: bool = True) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    # different words on each page: lines repeated on every page are dropped
    # as running headers and footers
    for number in ("first", "second"):
        pdf.add_page()
        pdf.multi_cell(
            0,
            6,
            f"Limits, part {number}: the table gives each unit's limits.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        if ruled:
            with pdf.table() as table:
                for cells in (HEADER, *ROWS):
                    row = table.row()
                    for cell in cells:
                        row.cell(cell)
        else:
            for cells in (HEADER, *ROWS):
                pdf.multi_cell(0, 6, "   ".join(cells), new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(
            0,
            6,
            f"Increases to these limits need approval ({number}).",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    path.write_bytes(bytes(pdf.output()))
    return path


def test_a_ruled_table_becomes_header_value_rows_between_its_paragraphs(tmp_path: Path) -> None:
    doc = load_document(table_pdf(tmp_path / "limits.pdf"), "limits.pdf", max_file_mb=5)
    assert [b.page for b in doc.blocks] == [1, 2]
    text = doc.blocks[0].text
    assert "Business unit: Treasury; Daily prompt limit: 80; Max document pages: 30" in text
    before = text.index("part first")
    table = text.index("Business unit: Retail Banking")
    after = text.index("Increases to these limits")
    assert before < table < after


def test_a_page_without_rules_is_not_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    searched: list[list[int]] = []
    real = pdf_tables.table_pages

    def spy(data: bytes, pages: list[int], source: str) -> dict[int, str]:
        searched.append(pages)
        return real(data, pages, source)

    monkeypatch.setattr("ingest.pdf.table_pages", spy)
    doc = load_document(table_pdf(tmp_path / "plain.pdf", ruled=False), "plain.pdf", max_file_mb=5)
    assert searched == [[]]
    assert "Treasury   80   30" in doc.blocks[0].text or "Treasury 80 30" in doc.blocks[0].text


def test_a_failing_table_search_keeps_the_pages_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(page: object) -> str:
        raise ValueError("no good")

    monkeypatch.setattr(pdf_tables, "_page_text", broken)
    doc = load_document(table_pdf(tmp_path / "limits.pdf"), "limits.pdf", max_file_mb=5)
    assert "Treasury" in doc.blocks[0].text and "Business unit:" not in doc.blocks[0].text
    assert "table search failed (no good)" in caplog.text


def test_may_hold_table_counts_drawn_rules() -> None:
    class Contents:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def get_data(self) -> bytes:
            return self.data

    class Page:
        def __init__(self, data: bytes) -> None:
            self.contents = Contents(data)

        def get_contents(self) -> Contents:
            return self.contents

    rules = b"10 10 100 20 re S\n" * 4
    assert pdf_tables.may_hold_table(Page(rules))
    assert not pdf_tables.may_hold_table(Page(b"BT (Some text, prepared) Tj ET\n" * 50))
    assert not pdf_tables.may_hold_table(Page(b"10 10 100 20 re S\n"))


def test_table_rows_ending_every_page_are_not_taken_for_running_footers() -> None:
    from ingest.pdf import _strip_running_lines

    pages = [
        "Limits, part one\nUnit: 1; Limit: 80\nUnit: 2; Limit: 90\nPage 1",
        "Limits, part two\nUnit: 3; Limit: 70\nUnit: 4; Limit: 60\nPage 2",
    ]
    kept = _strip_running_lines(pages)
    assert all("Page" not in page for page in kept)  # the real footer goes
    assert "Unit: 4; Limit: 60" in kept[1] and "Unit: 2; Limit: 90" in kept[0]
