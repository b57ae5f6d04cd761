"""Scanned renderings of documents, and how much of their text OCR gets back.

The OCR targets are measured on our own documents made into scans: a text
PDF's pages rendered to images and put back into an image-only PDF
(``scan_of_pdf``), or text typeset onto page images (``scan_of_text``, for
the Traditional Chinese sample, which is Markdown). Recall is counted
against the text the scan was made from:

- ``word_recall``: share of the reference's words (lower-cased runs of
  letters and digits, as a multiset) that the OCR text also has;
- ``char_recall``: the same over non-blank characters, for Chinese, whose
  words are not space-separated.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)
_WORD = re.compile(r"[^\W_]+")


def cjk_font() -> Path | None:
    """A font with Traditional Chinese glyphs (Debian's fonts-noto-cjk), if installed."""
    return next((Path(p) for p in CJK_FONTS if Path(p).is_file()), None)


def _images_to_pdf(images: Sequence[Any]) -> bytes:
    first, *rest = images
    buffer = io.BytesIO()
    first.save(buffer, format="PDF", save_all=True, append_images=rest, resolution=200.0)
    return buffer.getvalue()


def scan_of_pdf(pdf: bytes, dpi: int = 200) -> bytes:
    """The PDF as a scanner would give it back: every page an image, no text."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        images = [
            document[i].render(scale=dpi / 72, grayscale=True).to_pil()
            for i in range(len(document))
        ]
    finally:
        document.close()
    return _images_to_pdf(images)


def scan_of_text(text: str, font: Path, size: int = 34, dpi: int = 200) -> bytes:
    """``text`` typeset in ``font`` onto A4 page images, as an image-only PDF."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = int(8.27 * dpi), int(11.69 * dpi)
    margin = int(0.8 * dpi)
    face = ImageFont.truetype(str(font), size)
    line_height = int(size * 1.6)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for char in paragraph:
            if face.getlength(current + char) > width - 2 * margin:
                lines.append(current)
                current = ""
            current += char
        lines.append(current)
    per_page = (height - 2 * margin) // line_height
    pages = []
    for start in range(0, len(lines), per_page):
        page = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(page)
        for row, line in enumerate(lines[start : start + per_page]):
            draw.text((margin, margin + row * line_height), line, font=face, fill=0)
        pages.append(page)
    return _images_to_pdf(pages)


def words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in _WORD.findall(text))


def word_recall(reference: str, ocr: str) -> float:
    want, got = words(reference), words(ocr)
    total = sum(want.values())
    return sum(min(n, got[w]) for w, n in want.items()) / total if total else 1.0


def char_recall(reference: str, ocr: str) -> float:
    want = Counter(c for c in reference if not c.isspace())
    got = Counter(c for c in ocr if not c.isspace())
    total = sum(want.values())
    return sum(min(n, got[c]) for c, n in want.items()) / total if total else 1.0


__all__ = [
    "char_recall",
    "cjk_font",
    "scan_of_pdf",
    "scan_of_text",
    "word_recall",
    "words",
]
