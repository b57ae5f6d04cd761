"""OCR on real parts: the sample PDFs made into scans (every page an image, no
text layer) read back by Tesseract through the normal loader, and the
Traditional Chinese sample typeset onto page images. Targets: >= 95% of the
English words and >= 90% of the Chinese characters of the text recovered."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.scans import char_recall, cjk_font, scan_of_pdf, scan_of_text, word_recall
from ingest.loaders import load_bytes, load_document
from ingest.ocr import OcrOptions, tesseract_version

pytestmark = [pytest.mark.real, pytest.mark.ocr, pytest.mark.slow]

if tesseract_version() is None:
    pytest.skip("Tesseract is not installed (make ocr)", allow_module_level=True)

SAMPLE_PDFS = ("hkma-genai-sandbox-overview.pdf", "illustrative-bank-genai-usage-guidance.pdf")


def text_of(data: bytes, suffix: str, name: str, ocr: OcrOptions) -> str:
    _title, blocks, _pages = load_bytes(data, suffix, name, ocr)
    return "\n".join(block.text for block in blocks)


@pytest.mark.parametrize("name", SAMPLE_PDFS)
def test_a_scanned_sample_pdf_gives_back_95_percent_of_its_words(
    name: str, repo_root_path: Path, tmp_path: Path
) -> None:
    original = (repo_root_path / "corpus" / name).read_bytes()
    reference = text_of(original, ".pdf", name, OcrOptions(enabled=False))
    scan = tmp_path / name
    scan.write_bytes(scan_of_pdf(original))
    doc = load_document(scan, name, max_file_mb=50, ocr=OcrOptions(cache_dir=str(tmp_path / "c")))
    assert doc.ocr_pages == doc.pages > 0
    assert all(b.ocr_confidence is not None and not b.ocr_low for b in doc.blocks)
    recall = word_recall(reference, "\n".join(b.text for b in doc.blocks))
    assert recall >= 0.95, f"{name}: {recall:.3f} of the words recovered"


def test_the_traditional_chinese_sample_typeset_and_scanned_gives_back_90_percent(
    repo_root_path: Path,
) -> None:
    font = cjk_font()
    if font is None:
        pytest.skip("no CJK font (fonts-noto-cjk, installed by `make test`)")
    name = "zh-hant/genai-sandbox-overview-zh.md"
    reference = text_of((repo_root_path / "corpus" / name).read_bytes(), ".md", name, OcrOptions())
    recovered = text_of(scan_of_text(reference, font), ".pdf", name, OcrOptions())
    recall = char_recall(reference, recovered)
    assert recall >= 0.90, f"{recall:.3f} of the characters recovered"
    assert "15個用例" in recovered.replace(" ", "")
