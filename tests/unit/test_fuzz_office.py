"""The fuzz corpus's own writers (``tests.fuzz``): the sound Office
files, zips, compound files, mails and scans the hostile ones are cut from
read as what they claim to be, byte for byte the same each time, so the
hostile files made from them test what their notes say. And the Office files
whose XML declares entities never show what the entities name, read here
in-process (the fuzz test reads them through ``chatbot-ingest``)."""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
from pathlib import Path

import olefile
import pytest

from chatbot.errors import IngestionError
from ingest.loaders import load_bytes
from ingest.ocr import OcrOptions
from tests.fuzz.corpus import MUTE, OUTSIDE_CANARY, CorpusWriter
from tests.fuzz.images import image_pdf
from tests.fuzz.mail import eml, mute_msg
from tests.fuzz.office import OFFICE, build_zip, good_office, office_xml, zip_member
from tests.msg_writer import MAGIC

SENTENCE = "The fuzz sample 1 says the liquidity buffer stayed above the floor."
NO_OCR = OcrOptions(enabled=False)


def _text(data: bytes, suffix: str) -> str:
    _title, blocks, _pages = load_bytes(data, suffix, f"sample{suffix}", NO_OCR)
    return "\n".join(block.text for block in blocks)


@pytest.mark.parametrize("suffix", OFFICE)
def test_sound_office_files_read_and_are_the_same_each_time(suffix: str) -> None:
    data = good_office(suffix, SENTENCE)
    assert data == good_office(suffix, SENTENCE)
    assert SENTENCE in _text(data, suffix)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize("suffix", OFFICE)
def test_mute_office_files_have_no_words(suffix: str) -> None:
    """What keeps most hostile Office files from being embedded."""
    assert not re.search(r"[A-Za-z]", _text(good_office(suffix, MUTE), suffix))


def test_the_hand_made_zip_reads_back() -> None:
    members = [zip_member("a.txt", b"deflated " * 100), zip_member("b", b"kept", method=0)]
    data = build_zip(members, prefix=b"MZ stub", comment=b"note")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("a.txt") == b"deflated " * 100
        assert archive.read("b") == b"kept"
        assert archive.comment == b"note"


def test_the_msg_the_hostile_ones_are_cut_from_has_the_layout_they_assume() -> None:
    """``mail_msg`` damages fields by offset: the header's first FAT sector and
    directory start, the FAT in sector 0, the root storage's child link."""
    data = mute_msg()
    assert data[:8] == MAGIC
    assert struct.unpack_from("<I", data, 76)[0] == 0  # DIFAT[0]: the FAT is sector 0
    directory = 512 + 512 * struct.unpack_from("<I", data, 48)[0]
    assert data[directory : directory + 20].decode("utf-16-le") == "Root Entry"
    assert struct.unpack_from("<I", data, directory + 76)[0] != 0xFFFFFFFF  # it has children
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        assert ["__attach_version1.0_#00000000", "__substg1.0_3707001F"] in ole.listdir()
    assert "Attachments: a.txt" in _text(data, ".msg")


def test_a_mail_notes_the_attachment_it_could_not_read() -> None:
    broken = good_office(".docx", MUTE)[:5000]
    data = eml("Notice", SENTENCE, (("report.docx", "application/octet-stream", broken),))
    text = _text(data, ".eml")
    assert SENTENCE in text
    assert "report.docx (not read" in text


def test_the_scans_have_no_text_layer() -> None:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(image_pdf(10)))
    assert len(reader.pages) == 10
    assert all(not (page.extract_text() or "").strip() for page in reader.pages)


def test_office_xml_entities_never_show_what_they_name(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"The outside code is {OUTSIDE_CANARY}.\n")
    corpus = CorpusWriter(tmp_path / "corpus", outside, random.Random(15), 2.0)
    office_xml(corpus)
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
        assert OUTSIDE_CANARY not in text, fuzz.note
        assert "root:x:0" not in text, fuzz.note
        assert "lollollol" not in text, fuzz.note
    assert read >= 10  # the entities are dropped, the documents read
