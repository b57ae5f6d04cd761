"""Ingestion throughput per file format, OCR speed, and PDF tables.

One real text, an HKMA annual report chapter from ``../shared/data`` (read
there, never copied into the project), is written into every supported
format in a temporary folder: Markdown (the baseline), a text PDF, Word,
PowerPoint (a slide per two paragraphs), Excel (a row per sentence), and an
e-mail with the Word file attached. Each is parsed through the real isolated
loader (worker process) and chunked and embedded with the packaged model, so
the figures are what ingestion pays per file. Ratios are against the
Markdown file, measured in the same run.

OCR: pages/s of a scan of the PDF (page images only) at 300 dpi with the
default languages (chi_tra+eng) against English only, and of the Traditional
Chinese chapter typeset onto page images (needs fonts-noto-cjk).

Tables: a multi-page PDF of ruled tables (invented figures) read with pypdf
alone and with the pdfplumber table pass: the share of cells a chunk
attributes to their column ("header: value"), and the parse time.

    .venv/bin/python benchmarks/formats_bench.py [--year 2024] [--ocr-pages 6]

"""

from __future__ import annotations

import email.policy
import io
import re
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import click

from chatbot.adapters.st_embedder import SentenceTransformerEmbedder
from chatbot.compose import build_embedder
from chatbot.settings import Settings
from eval.scans import char_recall, cjk_font, scan_of_pdf, scan_of_text
from ingest.chunking import Chunker
from ingest.isolation import ParseLimits, open_loader
from ingest.loaders import load_bytes
from ingest.ocr import OcrOptions

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "hkma_annual_report_wmt25"


def sections(markdown: str) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) of a Markdown chapter."""
    found: list[tuple[str, list[str]]] = [("", [])]
    for block in re.split(r"\n\s*\n", markdown):
        block = " ".join(block.split())
        if block.startswith("#"):
            found.append((block.lstrip("# "), []))
        elif block:
            found[-1][1].append(block)
    return [(h, ps) for h, ps in found if ps]


def latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def write_formats(markdown: str, folder: Path) -> dict[str, Path]:
    import docx
    import openpyxl
    from fpdf import FPDF
    from pptx import Presentation

    parts = sections(markdown)
    files = {"markdown": folder / "chapter.md"}
    files["markdown"].write_text(markdown, encoding="utf-8")

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    for heading, paragraphs in parts:
        if heading:
            pdf.multi_cell(0, 7, latin1(heading), new_x="LMARGIN", new_y="NEXT")
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    files["pdf"] = folder / "chapter.pdf"
    files["pdf"].write_bytes(bytes(pdf.output()))

    word = docx.Document()
    for heading, paragraphs in parts:
        if heading:
            word.add_heading(heading, level=2)
        for paragraph in paragraphs:
            word.add_paragraph(paragraph)
    files["docx"] = folder / "chapter.docx"
    word.save(str(files["docx"]))

    deck = Presentation()
    for heading, paragraphs in parts:
        for start in range(0, len(paragraphs), 2):
            slide = deck.slides.add_slide(deck.slide_layouts[1])
            slide.shapes.title.text = heading or "Chapter"
            slide.placeholders[1].text_frame.text = "\n".join(paragraphs[start : start + 2])
    files["pptx"] = folder / "chapter.pptx"
    deck.save(str(files["pptx"]))

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Section", "Paragraph", "Sentence"])
    for heading, paragraphs in parts:
        for number, paragraph in enumerate(paragraphs, start=1):
            for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
                sheet.append([heading, number, sentence])
    files["xlsx"] = folder / "chapter.xlsx"
    book.save(str(files["xlsx"]))

    mail = EmailMessage(policy=email.policy.default)
    mail["Subject"] = "Chapter for review"
    mail["From"] = "Reviewer <reviewer@example.invalid>"
    mail.set_content(markdown)
    mail.add_attachment(
        files["docx"].read_bytes(),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="chapter.docx",
    )
    files["eml"] = folder / "chapter.eml"
    files["eml"].write_bytes(mail.as_bytes())
    return files


def measure(path: Path, embedder: SentenceTransformerEmbedder, ocr: OcrOptions) -> dict[str, Any]:
    chunker = Chunker(embedder.token_length, 220, 40)
    limits = ParseLimits(timeout_s=600, memory_mb=2048, max_file_mb=50, ocr=ocr)
    with open_loader(limits) as loader:
        loader.load(path, "warm-up")  # starts the worker and imports the parser
        started = time.perf_counter()
        doc = loader.load(path, path.name)
        parsed = time.perf_counter() - started
    chunks = chunker.chunk(doc)
    started = time.perf_counter()
    embedder.embed([c.indexed_text() for c in chunks])
    embedded = time.perf_counter() - started
    total = parsed + embedded
    return {
        "pages": doc.pages,
        "chunks": len(chunks),
        "parse_s": parsed,
        "embed_s": embedded,
        "chunks_per_s": len(chunks) / total if total else 0.0,
    }


def table_pdf(pages: int) -> tuple[bytes, list[dict[str, str]]]:
    from fpdf import FPDF

    header = ("Business unit", "Daily prompt limit", "Max document pages", "Approver")
    rows: list[dict[str, str]] = []
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for page in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Limits table, part {page + 1} of {pages}.", new_x="LMARGIN")
        pdf.ln(4)
        with pdf.table() as table:
            table.row(header)
            for i in range(18):
                unit = f"Unit {page * 18 + i}"
                cells = (unit, str(40 + (page * 7 + i * 13) % 200), str(10 + i * 3), f"Head {unit}")
                table.row(cells)
                rows.append(dict(zip(header, cells, strict=True)))
    return bytes(pdf.output()), rows


def attributed(text: str, rows: list[dict[str, str]]) -> float:
    flat = " ".join(text.split())
    cells = [(h, v) for row in rows for h, v in row.items()]
    return sum(1 for h, v in cells if f"{h}: {v}" in flat) / len(cells)


@click.command()
@click.option("--year", default="2024", help="Report year whose chapter is written out.")
@click.option("--ocr-pages", default=6, help="Pages of the scan to OCR per language setting.")
@click.option("--table-pages", default=10, help="Pages of the ruled-table PDF.")
def main(year: str, ocr_pages: int, table_pages: int) -> None:
    folder = SHARED / year
    if not folder.is_dir():
        click.echo(f"skipped: {folder} is absent")
        return
    chapter = sorted(folder.glob("1[0-9]_*.md"))[0]
    markdown = chapter.read_text(encoding="utf-8")
    embedder = build_embedder(Settings())
    embedder.embed(["warm up the model and its threads"] * 64)
    with tempfile.TemporaryDirectory(prefix="boundary-formats-") as tmp:
        root = Path(tmp)
        files = write_formats(markdown, root)
        click.echo(f"text: {chapter.relative_to(SHARED.parent)} ({len(markdown.split())} words)")
        click.echo(
            f"{'format':10} {'pages':>5} {'chunks':>6} {'parse s':>8} {'embed s':>8} "
            f"{'chunks/s':>9} {'vs md':>6}"
        )
        baseline = 0.0
        for name, path in files.items():
            row = measure(path, embedder, OcrOptions())
            baseline = baseline or row["chunks_per_s"]
            click.echo(
                f"{name:10} {row['pages']:>5} {row['chunks']:>6} {row['parse_s']:>8.2f} "
                f"{row['embed_s']:>8.2f} {row['chunks_per_s']:>9.1f} "
                f"{row['chunks_per_s'] / baseline:>6.2f}"
            )

        import pypdf

        reader = pypdf.PdfReader(files["pdf"])
        writer = pypdf.PdfWriter()
        for page in reader.pages[:ocr_pages]:
            writer.add_page(page)
        buffer = io.BytesIO()
        writer.write(buffer)
        scan = scan_of_pdf(buffer.getvalue())
        click.echo(f"\nOCR, {min(ocr_pages, len(reader.pages))} scanned pages at 300 dpi:")
        speeds: dict[str, float] = {}
        for languages in ("eng", "chi_tra+eng", "eng+chi_tra"):
            started = time.perf_counter()
            _, blocks, pages = load_bytes(scan, ".pdf", "scan.pdf", OcrOptions(languages=languages))
            seconds = time.perf_counter() - started
            speeds[languages] = pages / seconds
            mean = sum(b.ocr_confidence or 0 for b in blocks) / max(len(blocks), 1)
            click.echo(
                f"  {languages:12} {pages / seconds:.2f} pages/s ({seconds / pages:.2f} s/page), "
                f"mean confidence {mean:.0f}, {speeds[languages] / speeds['eng']:.2f}x eng alone"
            )
        font = cjk_font()
        chinese = sorted(folder.glob("C1[0-9]_*.md"))
        if font is not None and chinese:
            zh = chinese[0].read_text(encoding="utf-8")[:3000]
            zh_scan = scan_of_text(zh, font)
            for languages in ("chi_tra", "chi_tra+eng", "eng+chi_tra"):
                started = time.perf_counter()
                _, blocks, pages = load_bytes(
                    zh_scan, ".pdf", "zh.pdf", OcrOptions(languages=languages)
                )
                seconds = time.perf_counter() - started
                recall = char_recall(zh, "\n".join(b.text for b in blocks))
                speed = pages / seconds
                click.echo(f"  zh {languages:9} {speed:.2f} pages/s, character recall {recall:.3f}")

        data, rows = table_pdf(table_pages)
        click.echo(f"\nPDF tables, {table_pages} pages, {len(rows)} rows of 4 cells:")
        timings: dict[str, float] = {}
        import ingest.pdf as pdf_loader

        real = pdf_loader.may_hold_table
        for label, search in (("pypdf only", False), ("with pdfplumber", True)):
            pdf_loader.may_hold_table = real if search else (lambda page: False)
            started = time.perf_counter()
            _, blocks, _ = load_bytes(data, ".pdf", "tables.pdf", OcrOptions(enabled=False))
            timings[label] = time.perf_counter() - started
            share = attributed("\n".join(b.text for b in blocks), rows)
            click.echo(
                f"  {label:16} {share:.1%} of cells with their column, parse "
                f"{timings[label]:.2f} s ({timings[label] / timings['pypdf only']:.1f}x)"
            )
        pdf_loader.may_hold_table = real
        started = time.perf_counter()
        load_bytes(files["pdf"].read_bytes(), ".pdf", "chapter.pdf", OcrOptions())
        click.echo(
            f"  text PDF without tables: parse {time.perf_counter() - started:.3f} s "
            "(no page draws rules: none searched)"
        )


if __name__ == "__main__":
    main()
