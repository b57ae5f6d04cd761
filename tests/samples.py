"""Builders for small sample files (PDFs via fpdf2) used across tests."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter


def pdf_bytes(pages: Sequence[str], title: str | None = None) -> bytes:
    """A PDF with one page per entry (Latin-1 text, one line per '\\n')."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def write_pdf(path: Path, pages: Sequence[str], title: str | None = None) -> Path:
    path.write_bytes(pdf_bytes(pages, title))
    return path


def write_image_only_pdf(path: Path, pages: int = 2) -> Path:
    """Pages with drawings and no text, like a scan without OCR."""
    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 120, 80, style="F")
    path.write_bytes(bytes(pdf.output()))
    return path


def write_encrypted_pdf(path: Path, pages: Sequence[str], user_password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(pages))))
    writer.encrypt(user_password, owner_password="owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    path.write_bytes(out.getvalue())
    return path


POLICY_PAGE_1 = """1. Deposit Protection
The Deposit Protection Scheme covers eligible deposits up to HKD 800,000 per depositor per bank.
Compensation is paid within seven days after the scheme is triggered.
2. Eligible Deposits
Savings, current and time deposits of up to five years are protected."""

POLICY_PAGE_2 = """3. Exclusions
Structured deposits, bearer instruments and deposits held offshore are not protected.
4. Claims
Depositors do not need to file a claim; payment is made automatically."""
