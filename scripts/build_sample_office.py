"""Build the Office, mail and scanned-PDF samples of the corpus.

Writes seven illustrative files about the fictional "Example Bank" into corpus/,
from the text in scripts/office_sources/samples.toml (outside corpus/, so it is
not ingested twice):

    illustrative-genai-records-policy.docx         Word: headings and a table
    illustrative-ai-committee-deck.pptx            PowerPoint: 4 slides, notes, a table
    illustrative-genai-usage-limits.xlsx           Excel: 3 sheets
    illustrative-circular-genai-training.eml       mail with an HTML part and a .docx attachment
    illustrative-signed-memo-scan.pdf              2-page scan: page images only, no text layer
    illustrative-assistant-maintenance-notice.msg  Outlook message with a .txt attachment
    illustrative-fraud-poster.png                  A4 poster image (150 dpi), read by OCR

The scan is made by rendering a text PDF with fpdf2, rasterising it with
pypdfium2 at 200 dpi in grayscale, adding a slight seeded skew and noise, and
saving the JPEG-compressed images as a PDF with Pillow. The Outlook message is
written by tests/msg_writer.py (the tested MS-CFB/MS-OXMSG writer), and the
poster is drawn with Pillow in DejaVu Sans, large enough for Tesseract.

Output is deterministic: fixed dates and metadata everywhere, Office zips are
rewritten with fixed entry timestamps, the mail has a fixed Message-ID and MIME
boundaries, the .msg has fixed transport headers and no timestamps, the scan's
noise is seeded, and the poster is a plain PNG with no time chunk, so reruns
produce identical bytes.

Usage: .venv/bin/python scripts/build_sample_office.py
"""

from __future__ import annotations

import hashlib
import html
import io
import math
import random
import sys
import tomllib
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import docx
import pypdfium2 as pdfium
from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.shared import Pt
from fpdf import FPDF
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.writer.excel import ExcelWriter
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont
from pptx import Presentation
from pptx.util import Inches

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "scripts" / "office_sources" / "samples.toml"
CORPUS = ROOT / "corpus"

FIXED_DATE = datetime(2025, 11, 1, 0, 0, 0, tzinfo=UTC)
NAIVE_DATE = FIXED_DATE.replace(tzinfo=None)  # the Office libraries want naive UTC
ZIP_DATE = (2025, 11, 1, 0, 0, 0)
AUTHOR = "Boundary sample corpus"
CREATOR = "scripts/build_sample_office.py"
KEYWORDS = "Boundary, sample corpus, generative AI, illustrative"
SCAN_DPI = 200
SCAN_QUALITY = 80
DOCX_MIME = "vnd.openxmlformats-officedocument.wordprocessingml.document"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
POSTER_SIZE = (1240, 1754)  # A4 at 150 dpi
POSTER_DPI = 150
POSTER_MARGIN = 90

Source = dict[str, Any]


# --- Office packages -------------------------------------------------------


def normalise_zip(data: bytes) -> bytes:
    """Rewrite an Office zip with fixed timestamps and attributes, same entry order."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for entry in src.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(entry.filename))
    return out.getvalue()


def set_core_properties(props: Any, title: str, subject: str) -> None:
    """Fixed core properties; python-docx and python-pptx share these names."""
    props.title = title
    props.subject = subject
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.keywords = KEYWORDS
    props.comments = "ILLUSTRATIVE - NOT REAL POLICY"
    props.created = NAIVE_DATE
    props.modified = NAIVE_DATE
    props.last_printed = NAIVE_DATE
    props.revision = 1


def docx_bytes(document: DocxDocument) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return normalise_zip(buf.getvalue())


def add_docx_table(document: DocxDocument, rows: list[list[str]]) -> None:
    """A real Word table; the first row is the (bold, repeating) header row."""
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            cell = table.cell(r, c)
            cell.text = str(value)
            if r == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True
    table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))


def new_docx(title: str, subject: str, notice: str) -> DocxDocument:
    """A document with the notice in its page header and as its first paragraph."""
    document = docx.Document()
    set_core_properties(document.core_properties, title, subject)
    document.styles["Normal"].font.size = Pt(11)
    document.sections[0].header.paragraphs[0].text = notice
    document.add_heading(title, level=1)
    document.add_paragraph(notice).runs[0].bold = True
    return document


def build_policy(src: Source, notice: str) -> bytes:
    document = new_docx(src["title"], src["subject"], notice)
    for section in src["sections"]:
        document.add_heading(section["heading"], level=2)
        for text in section["paragraphs"]:
            document.add_paragraph(text)
        if "table" in section:
            add_docx_table(document, section["table"])
    return docx_bytes(document)


def build_outline(src: Source, notice: str) -> bytes:
    """The training outline attached to the circular (never written to corpus/)."""
    document = new_docx(src["title"], "Illustrative, fictional training outline", notice)
    for text in src["paragraphs"][1:]:  # the first one is the notice, already added
        document.add_paragraph(text)
    for item in src["bullets"]:
        document.add_paragraph(item, style="List Bullet")
    return docx_bytes(document)


def build_deck(src: Source) -> bytes:
    prs = Presentation()
    set_core_properties(prs.core_properties, src["title"], src["subject"])
    title_slide = prs.slides.add_slide(prs.slide_layouts[0])
    title_slide.shapes.title.text = src["title"]
    title_slide.placeholders[1].text = src["subtitle"]
    for spec in src["slides"]:
        layout = prs.slide_layouts[1 if "bullets" in spec else 5]  # Title and Content / Title Only
        slide = prs.slides.add_slide(layout)
        slide.shapes.title.text = spec["title"]
        if "bullets" in spec:
            body = slide.placeholders[1].text_frame
            body.text = spec["bullets"][0]
            for bullet in spec["bullets"][1:]:
                body.add_paragraph().text = bullet
        if "table" in spec:
            rows = spec["table"]
            size = (Inches(0.5), Inches(1.8), Inches(9), Inches(0.5 * len(rows)))
            shape = slide.shapes.add_table(len(rows), len(rows[0]), *size)
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = value
        if "notes" in spec:
            slide.notes_slide.notes_text_frame.text = spec["notes"]
    buf = io.BytesIO()
    prs.save(buf)
    return normalise_zip(buf.getvalue())


def build_workbook(src: Source) -> bytes:
    wb = Workbook()
    readme = wb.active
    readme.title = "Read me"
    for r, text in enumerate(src["readme"], start=1):
        readme.cell(row=r, column=1, value=text).font = Font(bold=r <= 2)
    readme.column_dimensions["A"].width = 110
    for spec in src["sheets"]:
        ws = wb.create_sheet(spec["name"])
        for row in spec["rows"]:
            ws.append(row)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for c in range(1, len(spec["rows"][0]) + 1):
            width = max(len(str(row[c - 1])) for row in spec["rows"]) + 4
            ws.column_dimensions[chr(ord("A") + c - 1)].width = width
        ws.freeze_panes = "A2"
    props = wb.properties
    props.title, props.subject, props.keywords = src["title"], src["subject"], KEYWORDS
    props.creator = props.lastModifiedBy = AUTHOR
    props.created = props.modified = NAIVE_DATE
    # ExcelWriter directly: openpyxl's save_workbook() stamps `modified` with the clock.
    buf = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED)).save()
    return normalise_zip(buf.getvalue())


# --- Mail --------------------------------------------------------------------


def build_circular(src: Source, attachment: bytes) -> bytes:
    """multipart/mixed: multipart/alternative (text, HTML) plus the .docx outline."""
    msg = EmailMessage()
    msg["Subject"] = src["subject"]
    msg["From"] = src["from"]
    msg["To"] = src["to"]
    msg["Date"] = src["date"]
    msg["Message-ID"] = src["message_id"]
    paragraphs: list[str] = src["paragraphs"]
    msg.set_content("\n\n".join(paragraphs) + "\n")
    body_html = "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in paragraphs)
    msg.add_alternative(
        f'<!DOCTYPE html>\n<html lang="en">\n<body>\n{body_html}</body>\n</html>\n', subtype="html"
    )
    msg.add_attachment(
        attachment,
        maintype="application",
        subtype=DOCX_MIME,
        filename=src["attachment"]["filename"],
    )
    # Fixed boundaries; otherwise the generator picks random ones.
    msg.set_boundary("=_boundary-mixed-circular-2025-07")
    for part in msg.iter_parts():
        if part.get_content_type() == "multipart/alternative":
            part.set_boundary("=_boundary-alternative-circular-2025-07")
    return msg.as_bytes(policy=SMTP)  # RFC 5322 line endings (CRLF)


def build_notice_msg(src: Source) -> bytes:
    """An Outlook .msg with a plain-text body and a UTF-8 .txt attachment."""
    # tests/msg_writer.py is the project's tested .msg writer; it lives in the
    # tests package, so the repository root goes on sys.path to import it.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.msg_writer import build_msg

    attachment = src["attachment"]
    rollback = "\r\n\r\n".join(attachment["paragraphs"]) + "\r\n"
    return build_msg(
        src["subject"],
        "\r\n\r\n".join(src["paragraphs"]) + "\r\n",  # Outlook bodies use CRLF
        sender=src["sender"],
        address=src["address"],
        to=src["to"],
        date=src["date"],
        attachments=[(attachment["filename"], rollback.encode("utf-8"))],
    )


# --- Scanned memo ------------------------------------------------------------


def signature(pdf: FPDF, x: float, y: float) -> None:
    """A hand-drawn-looking squiggle, computed (so the same every run)."""
    wave = [3.5 * math.sin(t / 3.1 + math.sin(t / 7.0)) * math.cos(t / 13.0) for t in range(90)]
    points = [(x + t * 0.55, y - dy - 0.04 * t) for t, dy in enumerate(wave)]
    pdf.set_line_width(0.55)
    pdf.polyline(points)
    pdf.line(x + 4, y + 4.5, x + 50, y + 3.2)


def memo_text_pdf(src: Source, notice: str) -> bytes:
    """The memo as a normal text PDF, only used as the 'paper' that gets scanned."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(left=25, top=25, right=25)
    pdf.set_auto_page_break(auto=False)
    pdf.set_creation_date(FIXED_DATE)
    for number, paragraphs in enumerate(src["pages"], start=1):
        pdf.add_page()
        if number == 1:
            pdf.set_font("Helvetica", style="B", size=15)
            pdf.multi_cell(0, 8, src["title"], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
            pdf.set_font("Helvetica", style="B", size=11)
            pdf.multi_cell(0, 6, notice, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
            pdf.set_font("Helvetica", size=12)
            for field in src["fields"]:
                pdf.cell(0, 6.5, field, new_x="LMARGIN", new_y="NEXT")
            pdf.line(pdf.l_margin, pdf.get_y() + 3, pdf.w - pdf.r_margin, pdf.get_y() + 3)
            pdf.ln(8)
        pdf.set_font("Helvetica", size=12)
        for text in paragraphs:
            pdf.multi_cell(0, 6.5, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        if number == len(src["pages"]):
            pdf.ln(6)
            signature(pdf, pdf.l_margin + 2, pdf.get_y() + 6)
            pdf.ln(14)
            pdf.cell(0, 6.5, src["signed"], new_x="LMARGIN", new_y="NEXT")
            pdf.cell(0, 6.5, src["signed_date"], new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(-20)
        pdf.set_font("Helvetica", size=9)
        pdf.cell(0, 5, f"Page {number} of {len(src['pages'])}", align="C")
    return bytes(pdf.output())


def scanned(page: Image.Image, seed: int) -> Image.Image:
    """Make a clean grayscale page look scanned: off-white paper, grain, slight skew."""
    rng = random.Random(seed)
    small = (page.width // 5, page.height // 5)
    # Coarse grain: a small random image scaled up, so that JPEG still compresses it well.
    grain = Image.frombytes("L", small, rng.randbytes(small[0] * small[1]))
    grain = grain.resize(page.size, Image.Resampling.BILINEAR).point(lambda v: v * 12 // 255)
    page = ImageChops.subtract(page.point(lambda v: 18 + v * 224 // 255), grain)
    page = page.filter(ImageFilter.GaussianBlur(0.6))
    angle = rng.uniform(-0.5, 0.5)
    return page.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=236)


def build_memo_scan(src: Source, notice: str) -> bytes:
    document = pdfium.PdfDocument(memo_text_pdf(src, notice))
    pages = []
    for index in range(len(document)):
        bitmap = document[index].render(scale=SCAN_DPI / 72, grayscale=True)
        pages.append(scanned(bitmap.to_pil().convert("L"), seed=2025_0815 + index))
    document.close()
    buf = io.BytesIO()
    stamp = FIXED_DATE.timetuple()
    pages[0].save(
        buf,
        "PDF",
        save_all=True,
        append_images=pages[1:],
        resolution=SCAN_DPI,
        quality=SCAN_QUALITY,
        title=src["title"],
        subject=src["subject"],
        author=AUTHOR,
        creator=CREATOR,
        producer="Pillow",
        creationDate=stamp,
        modDate=stamp,
    )
    return buf.getvalue()


# --- Poster image ------------------------------------------------------------


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if not path.is_file():
        raise SystemExit(
            f"{path} not found: install DejaVu Sans (apt-get install fonts-dejavu-core)"
        )
    # The basic layout engine: no dependency on libraqm, same glyph placement everywhere.
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)


def wrap(
    draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: int
) -> list[str]:
    """``text`` broken into lines of at most ``width`` pixels, at spaces."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=face) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def build_poster(src: Source, notice: str) -> bytes:
    """A grey-and-black A4 poster: title band, notice, three numbered sections."""
    width, height = POSTER_SIZE
    inner = width - 2 * POSTER_MARGIN
    image = Image.new("L", POSTER_SIZE, 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((24, 24, width - 25, height - 25), outline=90, width=8)
    title, marking = font(64, bold=True), font(30, bold=True)
    heading, body, small = font(44, bold=True), font(32), font(28)

    y = 80
    # A title with a colon breaks after it, as a designer would set it.
    head, colon, rest = src["title"].partition(": ")
    pieces = [head + colon.rstrip(), rest] if colon else [head]
    title_lines = [line for piece in pieces for line in wrap(draw, piece, title, inner)]
    band = 40 + 80 * len(title_lines)
    draw.rectangle((POSTER_MARGIN - 30, y, width - POSTER_MARGIN + 30, y + band), fill=225)
    y += 20
    for line in title_lines:
        draw.text((POSTER_MARGIN, y), line, font=title, fill=0)
        y += 80
    y += 50
    for line in wrap(draw, notice, marking, inner):
        draw.text((POSTER_MARGIN, y), line, font=marking, fill=0)
        y += 44
    y += 40
    for section in src["sections"]:
        draw.line((POSTER_MARGIN, y, width - POSTER_MARGIN, y), fill=120, width=4)
        y += 30
        draw.text((POSTER_MARGIN, y), section["heading"], font=heading, fill=0)
        y += 80
        for text in section["lines"]:
            for line in wrap(draw, text, body, inner):
                draw.text((POSTER_MARGIN, y), line, font=body, fill=30)
                y += 46
            y += 22
        y += 40
    if y > height - 160:
        raise SystemExit(f"the poster's text overflows the page (ends at y={y})")
    draw.text((POSTER_MARGIN, height - 130), src["footer"], font=small, fill=60)
    buf = io.BytesIO()
    # No pnginfo: Pillow then writes no tEXt or tIME chunk, only the pixels and pHYs.
    image.save(buf, "PNG", optimize=True, dpi=(POSTER_DPI, POSTER_DPI))
    return buf.getvalue()


# --- Main ----------------------------------------------------------------------


def main() -> int:
    src = tomllib.loads(SOURCES.read_text(encoding="utf-8"))
    notice: str = src["notice"]
    outline = build_outline(src["circular"]["attachment"], notice)
    outputs = {
        src["policy"]["output"]: build_policy(src["policy"], notice),
        src["deck"]["output"]: build_deck(src["deck"]),
        src["workbook"]["output"]: build_workbook(src["workbook"]),
        src["circular"]["output"]: build_circular(src["circular"], outline),
        src["memo"]["output"]: build_memo_scan(src["memo"], notice),
        src["notice_msg"]["output"]: build_notice_msg(src["notice_msg"]),
        src["poster"]["output"]: build_poster(src["poster"], notice),
    }
    CORPUS.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        (CORPUS / name).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        print(f"wrote corpus/{name} ({len(data):,} bytes, sha256 {digest[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
