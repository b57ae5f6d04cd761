"""OCR (ingest/ocr.py): Tesseract's TSV parsed by hand, then real Tesseract on
small rendered images and PDFs (marked ``ocr``; skipped where Tesseract, its
English data or the font is absent)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter

import ingest.ocr
from chatbot.errors import IngestionError
from ingest.blocks import LoadedDocument
from ingest.chunking import Chunker
from ingest.loaders import load_document
from ingest.ocr import OcrOptions, OcrPage, parse_tsv
from tests.fakes import HashEmbedder
from tests.samples import POLICY_PAGE_1, pdf_bytes

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
MAX_MB = 50.0
LINES = ("Deposit protection covers", "eligible savings accounts")

# -- parse_tsv -----------------------------------------------------------------------

_TSV_HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
)


def tsv(*rows: tuple[int, int, int, int, float, str]) -> str:
    """Tesseract TSV: one row per (level, block, paragraph, line, confidence, text)."""
    lines = [_TSV_HEADER]
    for word, (level, block, par, line, conf, text) in enumerate(rows, start=1):
        lines.append(f"{level}\t1\t{block}\t{par}\t{line}\t{word}\t0\t0\t10\t10\t{conf}\t{text}")
    return "\n".join(lines) + "\n"


def test_parse_tsv_keeps_lines_and_paragraphs() -> None:
    page = parse_tsv(
        tsv(
            (1, 0, 0, 0, -1, ""),  # page, block, paragraph and line rows carry no word
            (2, 1, 0, 0, -1, ""),
            (4, 1, 1, 1, -1, ""),
            (5, 1, 1, 1, 96, "Deposit"),
            (5, 1, 1, 1, 90, "protection"),
            (5, 1, 1, 2, 80, "covers"),
            (5, 1, 2, 1, 90, "Claims"),
            (5, 2, 1, 1, 90, "Payment"),
            (5, 2, 1, 1, 90, "  "),  # blank words are skipped
        )
    )
    assert page.text == "Deposit protection\ncovers\n\nClaims\n\nPayment"


def test_parse_tsv_joins_cjk_words_without_spaces() -> None:
    page = parse_tsv(
        tsv(
            (5, 1, 1, 1, 90, "存款"),
            (5, 1, 1, 1, 90, "保障"),
            (5, 1, 1, 1, 90, "計劃"),
            (5, 1, 1, 1, 90, "HKD"),
            (5, 1, 1, 1, 90, "800,000"),
            (5, 1, 1, 1, 90, "港元。"),
        )
    )
    assert page.text == "存款保障計劃 HKD 800,000 港元。"


def test_parse_tsv_confidence_is_weighted_by_length_and_ignores_minus_one() -> None:
    page = parse_tsv(
        tsv(
            (5, 1, 1, 1, 90, "protection"),  # 10 letters at 90
            (5, 1, 1, 1, 40, "of"),  # 2 letters at 40
            (5, 1, 1, 1, -1, "ghost"),  # no confidence: not a word Tesseract read
            (5, 1, 1, 1, 0, "x"),  # 1 letter at 0
        )
    )
    assert page == OcrPage(text="protection of x", confidence=round((900 + 80 + 0) / 13, 1))


def test_parse_tsv_of_nothing() -> None:
    assert parse_tsv("") == OcrPage(text="", confidence=0.0)
    assert parse_tsv(tsv((4, 1, 1, 1, -1, ""))) == OcrPage(text="", confidence=0.0)
    assert (
        parse_tsv(_TSV_HEADER + "\n5\t1\t1\t1\t1\t1\t0\t0\t1\t1\tnot-a-number\tword\n").text == ""
    )


# -- without Tesseract ------------------------------------------------------------------


def frames_tiff(count: int) -> bytes:
    images = [Image.new("L", (64, 64), 255) for _ in range(count)]
    buffer = io.BytesIO()
    images[0].save(buffer, "TIFF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def test_ocr_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    Image.new("L", (64, 64), 255).save(path)
    with pytest.raises(IngestionError) as info:
        load_document(path, "scan.png", max_file_mb=MAX_MB, ocr=OcrOptions(enabled=False))
    assert (
        info.value.reason
        == "the file is an image and OCR is turned off (CHATBOT_INGEST__OCR=false)"
    )
    assert "turn OCR on" in info.value.hint


def test_too_many_pages_to_ocr(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    path.write_bytes(frames_tiff(3))
    with pytest.raises(IngestionError) as info:
        load_document(path, "scan.tif", max_file_mb=MAX_MB, ocr=OcrOptions(max_pages=2))
    assert info.value.reason == "the image holds 3 pages, over the limit of 2 to OCR per file"
    assert "CHATBOT_INGEST__OCR_MAX_PAGES" in info.value.hint


def test_damaged_image(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    with pytest.raises(IngestionError) as info:
        load_document(path, "scan.png", max_file_mb=MAX_MB)
    assert info.value.reason.startswith("the image is damaged or not an image")


def test_the_ocr_cache_is_keyed_by_the_hash_load_document_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys: list[str] = []

    def spy(source: str, file_hash: str, *args: object) -> dict[int, OcrPage]:
        keys.append(file_hash)
        return {0: OcrPage(text="Deposit protection", confidence=90.0)}

    monkeypatch.setattr("ingest.images.ocr_pages", spy)
    path = tmp_path / "memo.png"
    Image.new("L", (64, 64), 255).save(path)
    doc = load_document(path, "memo.png", max_file_mb=MAX_MB)
    assert keys == [doc.file_hash] == [hashlib.sha256(path.read_bytes()).hexdigest()]


# -- with Tesseract --------------------------------------------------------------------


@pytest.fixture
def tesseract() -> None:
    if ingest.ocr.tesseract_version() is None:
        pytest.skip("Tesseract is not installed (make ocr)")
    if ingest.ocr.missing_languages("eng"):
        pytest.skip("Tesseract has no English data")
    if not FONT.exists():
        pytest.skip(f"no TrueType font at {FONT}")


@pytest.fixture
def progress(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int, int]]]:
    calls: list[tuple[str, int, int]] = []
    monkeypatch.setattr(ingest.ocr, "_progress", None)  # restored after the test
    ingest.ocr.set_progress(lambda source, done, total: calls.append((source, done, total)))
    yield calls


def text_image(lines: tuple[str, ...] = LINES) -> Image.Image:
    """Black text on white, 48 px DejaVu Sans: about 11 pt at 300 dpi."""
    font = ImageFont.truetype(str(FONT), 48)
    image = Image.new("L", (1400, 120 + 90 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((60, 60 + 90 * number), line, font=font, fill=0)
    return image


SCANNED = (LINES, ("Claims are paid", "within seven days"))


def image_pdf(pages: int = 1) -> bytes:
    """Pages that are only images, as a scanner makes them (300 dpi). Their
    lines differ: lines that recur on every page are dropped as running heads."""
    images = [text_image(SCANNED[n]) for n in range(pages)]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", resolution=300.0, save_all=True, append_images=images[1:])
    return buffer.getvalue()


def options(tmp_path: Path, **changes: object) -> OcrOptions:
    settings: dict[str, object] = {"languages": "eng", "cache_dir": str(tmp_path / "cache")}
    return OcrOptions(**{**settings, **changes})  # type: ignore[arg-type]


def read(path: Path, ocr: OcrOptions) -> LoadedDocument:
    return load_document(path, path.name, max_file_mb=MAX_MB, ocr=ocr)


@pytest.mark.ocr
def test_png_is_read_by_ocr(tesseract: None, tmp_path: Path) -> None:
    path = tmp_path / "memo.png"
    text_image().save(path)
    doc = read(path, options(tmp_path))
    (block,) = doc.blocks
    assert block.text.replace("\n\n", "\n").splitlines() == list(LINES)
    assert block.ocr_confidence is not None and block.ocr_confidence > 60
    assert not block.ocr_low
    assert (block.page, doc.pages, doc.ocr_pages) == (1, 1, 1)


@pytest.mark.ocr
def test_second_read_comes_from_the_cache(
    tesseract: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    progress: list[tuple[str, int, int]],
) -> None:
    path = tmp_path / "memo.png"
    text_image().save(path)
    first = read(path, options(tmp_path))
    assert list((tmp_path / "cache").rglob("*.json"))
    assert progress == [("memo.png", 1, 1)]

    def no_tesseract(png: bytes, ocr: OcrOptions) -> OcrPage:
        raise AssertionError("OCR ran again instead of using the cache")

    monkeypatch.setattr(ingest.ocr, "ocr_png", no_tesseract)
    again = read(path, options(tmp_path))
    assert again.blocks == first.blocks
    assert progress == [("memo.png", 1, 1)]  # a page from the cache is no OCR progress


def test_progress_counts_only_the_pages_tesseract_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, progress: list[tuple[str, int, int]]
) -> None:
    rendered: list[bytes] = []

    def fake_tesseract(png: bytes, ocr: OcrOptions) -> OcrPage:
        rendered.append(png)
        return OcrPage(text=png.decode(), confidence=90.0)

    monkeypatch.setattr("ingest.ocr.ocr_png", fake_tesseract)
    monkeypatch.setattr("ingest.ocr.tesseract_version", lambda: "tesseract 5.3.0")
    monkeypatch.setattr("ingest.ocr.missing_languages", lambda languages: ())
    ocr = options(tmp_path)

    def render(page: int) -> bytes:
        return f"page {page + 1}".encode()

    ingest.ocr.ocr_pages("scan.pdf", "0" * 64, [1], render, ocr, "a scan")  # page 2 cached
    progress.clear()
    read = ingest.ocr.ocr_pages("scan.pdf", "0" * 64, [0, 1, 2], render, ocr, "a scan")
    assert [(page, found.text) for page, found in read.items()] == [
        (0, "page 1"),
        (1, "page 2"),
        (2, "page 3"),
    ]
    assert rendered == [b"page 2", b"page 1", b"page 3"]  # page 2 rendered once, first
    assert progress == [("scan.pdf", 1, 2), ("scan.pdf", 2, 2)]


@pytest.mark.ocr
def test_missing_language(tesseract: None, tmp_path: Path) -> None:
    path = tmp_path / "memo.png"
    text_image().save(path)
    with pytest.raises(IngestionError) as info:
        read(path, options(tmp_path, languages="eng+xxx"))
    assert info.value.reason == "the file is an image and Tesseract has no data for xxx"
    assert "tesseract-ocr-xxx" in info.value.hint


@pytest.mark.ocr
def test_image_only_pdf_is_read_page_by_page(
    tesseract: None, tmp_path: Path, progress: list[tuple[str, int, int]]
) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(image_pdf(pages=2))
    doc = read(path, options(tmp_path))
    assert [b.page for b in doc.blocks] == [1, 2]
    for block, lines in zip(doc.blocks, SCANNED, strict=True):
        assert block.text.replace("\n\n", "\n").splitlines() == list(lines)
        assert block.ocr_confidence is not None and block.ocr_confidence > 60
    assert (doc.pages, doc.ocr_pages) == (2, 2)
    assert progress == [("scan.pdf", 1, 2), ("scan.pdf", 2, 2)]


@pytest.mark.ocr
def test_mixed_pdf_ocrs_only_the_page_without_text(
    tesseract: None, tmp_path: Path, progress: list[tuple[str, int, int]]
) -> None:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(pdf_bytes([POLICY_PAGE_1]))))
    writer.append(PdfReader(io.BytesIO(image_pdf(pages=1))))
    buffer = io.BytesIO()
    writer.write(buffer)
    path = tmp_path / "mixed.pdf"
    path.write_bytes(buffer.getvalue())
    doc = read(path, options(tmp_path))
    typed, scanned = doc.blocks
    assert typed.page == 1 and typed.ocr_confidence is None
    assert "HKD 800,000" in typed.text
    assert scanned.page == 2 and "eligible savings accounts" in scanned.text
    assert scanned.ocr_confidence is not None and scanned.ocr_confidence > 60
    assert (doc.pages, doc.ocr_pages) == (2, 1)
    assert progress == [("mixed.pdf", 1, 1)]


@pytest.mark.ocr
def test_ocr_chunks_say_so_in_their_context(tesseract: None, tmp_path: Path) -> None:
    path = tmp_path / "memo.png"
    text_image().save(path)
    doc = read(path, options(tmp_path, min_confidence=101.0))  # every page counts as low
    assert doc.blocks[0].ocr_low
    (chunk,) = Chunker(HashEmbedder().token_length, chunk_tokens=200, chunk_overlap=0).chunk(doc)
    assert chunk.context.ocr == "ocr-low"
    assert chunk.context.ocr_confidence == f"{doc.blocks[0].ocr_confidence:.0f}"
    assert chunk.title == "memo"


def test_an_image_too_large_to_decode_safely_is_refused_before_decoding(tmp_path: Path) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    # a header declaring 11,000 x 11,000 pixels (121 M, past the limit), no data
    header = struct.pack(">IIBBBBB", 11_000, 11_000, 8, 0, 0, 0, 0)
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    with pytest.raises(IngestionError) as info:
        load_document(path, "huge.png", max_file_mb=MAX_MB)
    assert info.value.reason == "the image is 11000 x 11000 pixels, too large to read safely"


def test_an_ocr_failure_on_a_damaged_page_does_not_blame_the_installation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(png: bytes, options: OcrOptions) -> object:
        raise RuntimeError("tesseract exited with 1: std::bad_alloc")

    monkeypatch.setattr("ingest.ocr.ocr_png", failing)
    monkeypatch.setattr("ingest.ocr.tesseract_version", lambda: "tesseract 5.3.0")
    monkeypatch.setattr("ingest.ocr.missing_languages", lambda languages: ())
    path = tmp_path / "scan.tif"
    path.write_bytes(frames_tiff(1))
    with pytest.raises(IngestionError) as info:
        load_document(path, "scan.tif", max_file_mb=MAX_MB)
    assert "std::bad_alloc" in info.value.reason
    assert "install" not in info.value.hint and "re-scan" in info.value.hint
