"""The fuzz corpus's own writers (``tests.fuzz_corpus``): the sound Office
files, zips, compound files, mails and scans the hostile ones are cut from
read as what they claim to be, byte for byte the same each time, so the
hostile files made from them test what their notes say. And the Office files
whose XML declares entities never show what the entities name, read here
in-process (the fuzz test reads them through ``chatbot-ingest``)."""

from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path

import olefile
import pytest

from chatbot.errors import IngestionError
from ingest.loaders import load_bytes
from ingest.ocr import OcrOptions
from tests import fuzz_corpus as fc

SENTENCE = "The fuzz sample 1 says the liquidity buffer stayed above the floor."
NO_OCR = OcrOptions(enabled=False)


def _text(data: bytes, suffix: str) -> str:
    _title, blocks, _pages = load_bytes(data, suffix, f"sample{suffix}", NO_OCR)
    return "\n".join(block.text for block in blocks)


@pytest.mark.parametrize("suffix", fc.OFFICE)
def test_sound_office_files_read_and_are_the_same_each_time(suffix: str) -> None:
    data = fc.good_office(suffix, SENTENCE)
    assert data == fc.good_office(suffix, SENTENCE)
    assert SENTENCE in _text(data, suffix)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize("suffix", fc.OFFICE)
def test_mute_office_files_have_no_words(suffix: str) -> None:
    """What keeps most hostile Office files from being embedded."""
    assert not re.search(r"[A-Za-z]", _text(fc.good_office(suffix, fc.MUTE), suffix))


def test_the_hand_made_zip_reads_back() -> None:
    members = [fc.zip_member("a.txt", b"deflated " * 100), fc.zip_member("b", b"kept", method=0)]
    data = fc.build_zip(members, prefix=b"MZ stub", comment=b"note")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("a.txt") == b"deflated " * 100
        assert archive.read("b") == b"kept"
        assert archive.comment == b"note"


def test_the_compound_file_reads_back_with_olefile() -> None:
    tree: fc.OleTree = {
        "first": b"a" * 5000,
        "Storage": {"inner": bytes(range(256)) * 16},
        "zz": b"z" * 4096,
    }
    with olefile.OleFileIO(io.BytesIO(fc.build_cfb(tree))) as ole:
        assert ole.openstream("first").read() == b"a" * 5000
        assert ole.openstream(["Storage", "inner"]).read() == bytes(range(256)) * 16
        assert ole.openstream("zz").read() == b"z" * 4096
        assert sorted(ole.listdir()) == [["Storage", "inner"], ["first"], ["zz"]]
    with pytest.raises(ValueError, match="under 4096"):
        fc.build_cfb({"small": b"x"})


def test_the_msg_reads_as_a_mail_with_its_attachment() -> None:
    attached = fc._padded(b"The attached note names the vault code.")
    data = fc.build_msg("Quarterly notice", SENTENCE, (("notes.txt", attached),))
    text = _text(data, ".msg")
    assert "Subject: Quarterly notice" in text
    assert SENTENCE in text
    assert "The attached note names the vault code." in text


def test_a_mail_notes_the_attachment_it_could_not_read() -> None:
    broken = fc.good_office(".docx", fc.MUTE)[:5000]
    data = fc.eml("Notice", SENTENCE, (("report.docx", "application/octet-stream", broken),))
    text = _text(data, ".eml")
    assert SENTENCE in text
    assert "report.docx (not read" in text


def test_the_scans_have_no_text_layer() -> None:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(fc._image_pdf(10)))
    assert len(reader.pages) == 10
    assert all(not (page.extract_text() or "").strip() for page in reader.pages)


def test_office_xml_entities_never_show_what_they_name(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"The outside code is {fc.OUTSIDE_CANARY}.\n")
    corpus = fc._Corpus(tmp_path / "corpus", outside, random.Random(15), 2.0)
    fc.office_xml(corpus)
    assert len(corpus.files) == 30
    read = 0
    for fuzz in corpus.files:
        data = (corpus.folder / fuzz.path).read_bytes()
        try:
            text = _text(data, fuzz.suffix)
        except IngestionError as exc:  # refused: a reason and a hint, nothing else
            assert exc.reason and exc.hint, fuzz.note
            continue
        read += 1
        assert fc.OUTSIDE_CANARY not in text, fuzz.note
        assert "root:x:0" not in text, fuzz.note
        assert "lollollol" not in text, fuzz.note
    assert read >= 10  # the entities are dropped, the documents read
