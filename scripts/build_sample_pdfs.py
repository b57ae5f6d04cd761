"""Render the two sample PDFs of the corpus from their Markdown sources.

The sources live in scripts/pdf_sources/ (outside corpus/, so they are not
ingested twice). Only a small Markdown subset is understood:

    # Title                 title line at the top of the first page
    > text                  boxed note (italic)
    ## Heading              bold section heading
    - item                  bullet
    ---pagebreak---         explicit page break
    anything else           paragraph text (blank lines separate paragraphs)

Output is deterministic: fixed creation date and metadata, and fpdf2 derives
the file ID from the content, so reruns produce identical bytes.

Usage: .venv/bin/python scripts/build_sample_pdfs.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "scripts" / "pdf_sources"
CORPUS = ROOT / "corpus"

PAGE_BREAK = "---pagebreak---"
FIXED_DATE = datetime(2025, 11, 1, 0, 0, 0, tzinfo=UTC)
FONT = "Helvetica"


@dataclass(frozen=True)
class DocSpec:
    source: str
    output: str
    header: str
    subject: str
    author: str


DOCS: tuple[DocSpec, ...] = (
    DocSpec(
        source="hkma-genai-sandbox-overview.md",
        output="hkma-genai-sandbox-overview.pdf",
        header="Boundary sample corpus - summary of public announcements, not an HKMA publication",
        subject="Summary of the HKMA and Cyberport GenA.I. Sandbox from public announcements",
        author="Boundary sample corpus",
    ),
    DocSpec(
        source="illustrative-bank-genai-usage-guidance.md",
        output="illustrative-bank-genai-usage-guidance.pdf",
        header="ILLUSTRATIVE - NOT REAL POLICY - Example Bank (fictional)",
        subject="Illustrative, fictional internal guidance on generative AI use",
        author="Boundary sample corpus",
    ),
)


class SamplePDF(FPDF):
    """A4 document with a running header line and a page number footer."""

    def __init__(self, header_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.header_text = header_text
        self.set_margins(left=20, top=22, right=20)
        self.set_auto_page_break(auto=True, margin=20)

    def header(self) -> None:
        self.set_y(10)
        self.set_font(FONT, style="B", size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, self.header_text, align="C")
        self.set_draw_color(180, 180, 180)
        self.line(self.l_margin, 16, self.w - self.r_margin, 16)
        self.set_text_color(0, 0, 0)
        self.set_y(self.t_margin)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def parse_pages(text: str) -> list[list[tuple[str, str]]]:
    """Split the source into pages of (kind, text) blocks."""
    pages: list[list[tuple[str, str]]] = [[]]
    para: list[str] = []

    def flush() -> None:
        if para:
            pages[-1].append(("p", " ".join(para)))
            para.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if line == PAGE_BREAK:
            flush()
            pages.append([])
        elif not line:
            flush()
        elif line.startswith("## "):
            flush()
            pages[-1].append(("h2", line[3:].strip()))
        elif line.startswith("# "):
            flush()
            pages[-1].append(("h1", line[2:].strip()))
        elif line.startswith("> "):
            flush()
            pages[-1].append(("note", line[2:].strip()))
        elif line.startswith("- "):
            flush()
            pages[-1].append(("li", line[2:].strip()))
        else:
            para.append(line)
    flush()
    return [page for page in pages if page]


def render(spec: DocSpec) -> tuple[Path, int]:
    text = (SOURCES / spec.source).read_text(encoding="utf-8")
    pages = parse_pages(text)
    title = next((body for page in pages for kind, body in page if kind == "h1"), spec.output)

    pdf = SamplePDF(spec.header)
    pdf.set_title(title)
    pdf.set_subject(spec.subject)
    pdf.set_author(spec.author)
    pdf.set_creator("scripts/build_sample_pdfs.py")
    pdf.set_producer("fpdf2")
    pdf.set_keywords("Boundary, sample corpus, generative AI")
    pdf.set_lang("en")
    pdf.set_creation_date(FIXED_DATE)

    for page in pages:
        pdf.add_page()
        for kind, body in page:
            if kind == "h1":
                pdf.set_font(FONT, style="B", size=16)
                pdf.multi_cell(0, 8, body, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
            elif kind == "note":
                pdf.set_font(FONT, style="I", size=9.5)
                pdf.set_fill_color(240, 240, 240)
                pdf.multi_cell(
                    0, 5, body, border=1, fill=True, padding=2, new_x="LMARGIN", new_y="NEXT"
                )
                pdf.ln(3)
            elif kind == "h2":
                pdf.ln(1)
                pdf.set_font(FONT, style="B", size=12)
                pdf.multi_cell(0, 6.5, body, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            elif kind == "li":
                pdf.set_font(FONT, size=10.5)
                pdf.set_x(pdf.l_margin + 4)
                pdf.cell(4, 5.2, "-")
                pdf.multi_cell(0, 5.2, body, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            else:
                pdf.set_font(FONT, size=10.5)
                pdf.multi_cell(0, 5.2, body, align="J", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2.5)

    if pdf.page_no() != len(pages):
        raise SystemExit(
            f"{spec.output}: {len(pages)} source pages overflowed into {pdf.page_no()} "
            "PDF pages; shorten the text so each source page fits on one PDF page"
        )
    out = CORPUS / spec.output
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out, len(pages)


def main() -> int:
    for spec in DOCS:
        out, n_pages = render(spec)
        print(f"wrote {out.relative_to(ROOT)} ({n_pages} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
