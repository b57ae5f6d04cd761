"""E-mail (ingest/mail.py): .eml through the standard library, Outlook .msg
built with tests/msg_writer.py, and attachments read as parts of their own."""

from __future__ import annotations

import io
import os
from email.message import EmailMessage
from pathlib import Path

import docx
import olefile
import openpyxl
import pytest

import ingest.mail
from ingest.chunking import Chunker
from ingest.loaders import load_document
from tests.builders import MAX_FILE_MB, load_failure, load_file
from tests.fakes import HashEmbedder
from tests.msg_writer import Tree, build_cfb, build_msg

DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")
DATE = "Mon, 03 Mar 2025 09:30:00 +0800"
RED, BLACK = 0, 1  # MS-CFB 2.6.1 directory entry colour flag


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def limits_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Usage Limits"
    document.add_heading("Scope", 1)
    document.add_paragraph("The limits apply to all Treasury staff.")
    document.add_heading("Daily Limits", 1)
    document.add_paragraph("Each person may send eighty prompts a day.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def limits_xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Limits"
    sheet.append(["Business unit", "Daily prompt limit"])
    sheet.append(["Treasury", 80])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def circular(*, html: bool = True) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Circular: GenAI training"
    message["From"] = "Compliance Office <compliance@example.com>"
    message["To"] = "All Staff <staff@example.com>"
    message["Date"] = DATE
    message.set_content("All staff must finish the GenAI training by 31 March.\n")
    if html:
        message.add_alternative(
            "<html><body><p>HTML version: finish the training.</p></body></html>", subtype="html"
        )
    return message


# -- .eml ------------------------------------------------------------------------


def test_eml_envelope_then_plain_body(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path / "circular.eml", circular().as_bytes()))
    assert doc.title == "Circular: GenAI training"
    (block,) = doc.blocks
    assert block.text == (
        "Subject: Circular: GenAI training\n"
        "From: Compliance Office <compliance@example.com>\n"
        "To: All Staff <staff@example.com>\n"
        f"Date: {DATE}\n\n"
        "All staff must finish the GenAI training by 31 March."
    )
    assert "HTML version" not in block.text, "the plain part is preferred"
    assert block.part == "" and block.page is None
    assert doc.pages == 0


def test_eml_html_only_body_is_its_visible_text(tmp_path: Path) -> None:
    message = EmailMessage()
    message["Subject"] = "Notice"
    message["From"] = "it@example.com"
    message.set_content(
        "<html><head><style>p { color: red }</style><script>track()</script></head>"
        "<body><p>Only the <b>approved</b> assistant may be used.</p></body></html>",
        subtype="html",
    )
    (block,) = load_file(write(tmp_path / "notice.eml", message.as_bytes())).blocks
    assert block.text.endswith("\n\nOnly the approved assistant may be used.")
    assert "color" not in block.text and "track" not in block.text and "<" not in block.text


def test_eml_html_body_keeps_its_heading(tmp_path: Path) -> None:
    message = EmailMessage()
    message["Subject"] = "Notice"
    message["From"] = "it@example.com"
    message.set_content(
        "<html><body><h1>Assistant Outage Friday</h1><p>It will be down all day.</p></body></html>",
        subtype="html",
    )
    (block,) = load_file(write(tmp_path / "notice.eml", message.as_bytes())).blocks
    assert "Assistant Outage Friday" in block.text


def test_eml_attachment_is_read_as_its_own_part(tmp_path: Path) -> None:
    message = circular()
    message.add_attachment(limits_docx(), *DOCX_TYPE, filename="limits.docx")
    doc = load_file(write(tmp_path / "circular.eml", message.as_bytes()))
    mail, *parts = doc.blocks
    assert mail.part == ""
    assert "Attachments: limits.docx" in mail.text
    assert [(b.part, b.section) for b in parts] == [
        ("Usage Limits (limits.docx)", "Scope"),
        ("Usage Limits (limits.docx)", "Daily Limits"),
    ]
    assert parts[1].text == "Daily Limits\n\nEach person may send eighty prompts a day."


def test_eml_unsupported_and_broken_attachments_are_listed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    message = circular()
    message.add_attachment(b"PK\x05\x06" + bytes(18), "application", "zip", filename="slides.zip")
    message.add_attachment(b"not really a docx", *DOCX_TYPE, filename="broken.docx")
    message.add_attachment(b"Read me too.", "text", "plain", filename="notes.txt")
    doc = load_file(write(tmp_path / "circular.eml", message.as_bytes()))
    mail, notes = doc.blocks
    (listed,) = [line for line in mail.text.splitlines() if line.startswith("Attachments: ")]
    assert listed == (
        "Attachments: slides.zip (not read: unsupported type); broken.docx (not read: the "
        "file is not a valid Word file (not a readable zip: File is not a zip file)); notes.txt"
    )
    assert (notes.part, notes.text) == ("notes.txt", "Read me too.")
    assert "attachment broken.docx not read" in caplog.text


def test_eml_attached_message_is_read_with_its_own_attachment(tmp_path: Path) -> None:
    inner = EmailMessage()
    inner["Subject"] = "Earlier note"
    inner["From"] = "cio@example.com"
    inner.set_content("The earlier note said eighty prompts.")
    inner.add_attachment(b"Deep attachment text.", "text", "plain", filename="deep.txt")
    message = circular(html=False)
    message.add_attachment(inner)
    doc = load_file(write(tmp_path / "circular.eml", message.as_bytes()))
    mail, attached, deep = doc.blocks
    assert "Attachments: attached-message.eml" in mail.text
    assert attached.part == "Earlier note (attached-message.eml)"
    assert attached.text.startswith("Subject: Earlier note\nFrom: cio@example.com\n")
    assert attached.text.endswith("The earlier note said eighty prompts.")
    assert (deep.part, deep.text) == ("deep.txt", "Deep attachment text.")


def test_eml_attachment_names_lose_their_paths(tmp_path: Path) -> None:
    message = circular(html=False)
    message.add_attachment(b"Text.", "text", "plain", filename="../../etc/notes.txt")
    _mail, part = load_file(write(tmp_path / "circular.eml", message.as_bytes())).blocks
    assert "/" not in part.part and part.part.endswith("notes.txt")


def test_eml_attachments_nested_too_deep_are_listed_not_read(tmp_path: Path) -> None:
    def mail(subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["Subject"], message["From"] = subject, "cio@example.com"
        message.set_content(body)
        return message

    deepest, middle, outer = (
        mail("Third", "Third body."),
        mail("Second", "Second body."),
        circular(),
    )
    deepest.add_attachment(b"Too deep.", "text", "plain", filename="deep.txt")
    middle.add_attachment(deepest)
    outer.add_attachment(middle)
    blocks = load_file(write(tmp_path / "nested.eml", outer.as_bytes())).blocks
    assert [b.text.splitlines()[0] for b in blocks] == [
        "Subject: Circular: GenAI training",
        "Subject: Second",
        "Subject: Third",
    ]
    assert "Attachments: deep.txt (not read: attached too deep)" in blocks[2].text
    assert "Too deep." not in "".join(b.text for b in blocks)


def test_eml_attachments_over_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.mail, "MAX_ATTACHMENTS", 2)
    message = circular(html=False)
    for number in range(4):
        message.add_attachment(
            f"Note {number}.".encode(), "text", "plain", filename=f"{number}.txt"
        )
    mail, *parts = load_file(write(tmp_path / "many.eml", message.as_bytes())).blocks
    assert [p.part for p in parts] == ["0.txt", "1.txt"]
    assert "Attachments: 0.txt; 1.txt; 2 more (not read: over the limit)" in mail.text


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 4, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(255, -1, -1))],
    ids=["binary", "png"],
)
def test_garbage_named_eml_fails(tmp_path: Path, data: bytes) -> None:
    error = load_failure(write(tmp_path / "scan.eml", data))
    assert "does not look like an e-mail" in error.reason


def test_empty_looking_eml_fails(tmp_path: Path) -> None:
    error = load_failure(write(tmp_path / "blank.eml", b"\n\n\n   \n"))
    assert error.reason == "the file is empty"
    error = load_failure(write(tmp_path / "headers.eml", b"X-Nothing: here\n\n"))
    assert "does not look like an e-mail" in error.reason
    assert "saved as .eml" in error.hint


# -- the .msg writer ----------------------------------------------------------------


def test_msg_writer_output_reads_back_exactly_without_defects() -> None:
    small, large = os.urandom(100), os.urandom(20_000)
    tree: Tree = {
        "small": small,
        "edge": b"e" * 4096,  # the cutoff itself goes to regular sectors
        "empty": b"",
        "Storage": {"large": large, "tiny": b"t", "Nested": {"deep": b"d" * 4095}},
    }
    data = build_cfb(tree)
    with olefile.OleFileIO(data, raise_defects=olefile.DEFECT_UNSURE) as ole:
        assert not ole.parsing_issues
        assert sorted(ole.listdir()) == [
            ["Storage", "Nested", "deep"],
            ["Storage", "large"],
            ["Storage", "tiny"],
            ["edge"],
            ["empty"],
            ["small"],
        ]
        assert ole.openstream("small").read() == small
        assert ole.openstream("edge").read() == b"e" * 4096
        assert ole.openstream("empty").read() == b""
        assert ole.openstream("Storage/large").read() == large
        assert ole.openstream("Storage/tiny").read() == b"t"
        assert ole.openstream("Storage/Nested/deep").read() == b"d" * 4095
        assert ole.get_type("Storage/Nested") == olefile.STGTY_STORAGE


@pytest.mark.parametrize("count", [1, 2, 3, 6, 7, 8, 21])
def test_msg_writer_siblings_form_a_sorted_red_black_tree(count: int) -> None:
    names = [f"{'x' * (i % 4)}N{i}" for i in range(count)]
    with olefile.OleFileIO(build_cfb(dict.fromkeys(names, b"."))) as ole:

        def walk(sid: int) -> tuple[list[str], int]:
            """(names in order, black height) of the subtree at ``sid``."""
            if sid == olefile.NOSTREAM:
                return [], 1
            entry = ole.direntries[sid]
            left, left_height = walk(entry.sid_left)
            right, right_height = walk(entry.sid_right)
            assert left_height == right_height, "every path passes as many black nodes"
            if entry.color == RED:
                for child in (entry.sid_left, entry.sid_right):
                    assert child == olefile.NOSTREAM or ole.direntries[child].color == BLACK
            return [*left, entry.name, *right], left_height + (entry.color == BLACK)

        root = ole.direntries[0].sid_child
        assert ole.direntries[root].color == BLACK
        in_order, _height = walk(root)
    assert in_order == sorted(names, key=lambda n: (len(n), n.upper()))


def test_msg_writer_writes_a_message_olefile_reads() -> None:
    data = build_msg("Subject", "Body", attachments=[("a.bin", os.urandom(20_000))])
    with olefile.OleFileIO(data, raise_defects=olefile.DEFECT_UNSURE) as ole:
        assert not ole.parsing_issues
        assert ole.openstream("__substg1.0_0037001F").read() == "Subject".encode("utf-16-le")
        assert ole.get_size("__attach_version1.0_#00000000/__substg1.0_37010102") == 20_000
        assert ole.exists("__nameid_version1.0")
        assert len(ole.openstream("__properties_version1.0").read()) == 32 + 16 * 6


# -- .msg ------------------------------------------------------------------------


def test_msg_envelope_body_and_attachment(tmp_path: Path) -> None:
    data = build_msg(
        "Circular: GenAI training",
        "All staff must finish the GenAI training by 31 March.",
        sender="Compliance Office",
        address="compliance@example.com",
        to="All Staff",
        date=DATE,
        attachments=[("limits.docx", limits_docx()), ("logo.gif", b"GIF89a" + bytes(40))],
    )
    doc = load_file(write(tmp_path / "circular.msg", data))
    assert doc.title == "Circular: GenAI training"
    mail, *parts = doc.blocks
    assert mail.text == (
        "Subject: Circular: GenAI training\n"
        "From: Compliance Office <compliance@example.com>\n"
        "To: All Staff\n"
        f"Date: {DATE}\n"
        "Attachments: limits.docx; logo.gif (not read: unsupported type)\n\n"
        "All staff must finish the GenAI training by 31 March."
    )
    assert {b.part for b in parts} == {"Usage Limits (limits.docx)"}
    assert [b.section for b in parts] == ["Scope", "Daily Limits"]


def test_msg_with_a_large_attachment(tmp_path: Path) -> None:
    text = "Line of the attached guidance on prompt limits.\n" * 500  # over 4096 bytes
    data = build_msg("Guidance", "See the attachment.", attachments=[("guide.txt", text.encode())])
    _mail, part = load_file(write(tmp_path / "guidance.msg", data)).blocks
    assert part.part == "guide.txt"
    assert part.text == text.strip()


def test_msg_html_body_when_there_is_no_plain_body(tmp_path: Path) -> None:
    html = "<html><body><p>Only the <i>approved</i> assistant may be used.</p></body></html>"
    data = build_msg("Notice", "", html=html)
    (mail,) = load_file(write(tmp_path / "notice.msg", data)).blocks
    assert mail.text.endswith("\n\nOnly the approved assistant may be used.")


def test_msg_xlsx_attachment_sheet_is_a_part(tmp_path: Path) -> None:
    data = build_msg(
        "Limits", "The limits are attached.", attachments=[("limits.xlsx", limits_xlsx())]
    )
    mail, sheet = load_file(write(tmp_path / "limits.msg", data)).blocks
    assert "Attachments: limits.xlsx" in mail.text
    assert (sheet.part, sheet.unit, sheet.page, sheet.section) == (
        "limits.xlsx",
        "sheet",
        1,
        "Limits",
    )
    assert "Business unit: Treasury; Daily prompt limit: 80" in sheet.text


def test_msg_ansi_properties_and_short_attachment_name(tmp_path: Path) -> None:
    # Older Outlook writes PT_STRING8 (code page) strings, and 8.3 names only.
    tree: Tree = {
        "__substg1.0_0037001E": "Café circular".encode("cp1252"),
        "__substg1.0_1000001E": "The body, naïvely in ANSI.".encode("cp1252"),
        "__properties_version1.0": bytes(32),
        "__attach_version1.0_#00000000": {
            "__substg1.0_3704001F": "NOTES.TXT".encode("utf-16-le"),
            "__substg1.0_37010102": b"Short-named attachment.",
            "__properties_version1.0": bytes(8),
        },
    }
    doc = load_file(write(tmp_path / "old.msg", build_cfb(tree)))
    assert doc.title == "Café circular"
    mail, part = doc.blocks
    assert mail.text == (
        "Subject: Café circular\nAttachments: NOTES.TXT\n\nThe body, naïvely in ANSI."
    )
    assert (part.part, part.text) == ("NOTES.TXT", "Short-named attachment.")


def test_msg_embedded_outlook_item_is_not_dropped_silently(tmp_path: Path) -> None:
    tree: Tree = {
        "__substg1.0_0037001F": "Forwarding".encode("utf-16-le"),
        "__substg1.0_1000001F": "See the forwarded note.".encode("utf-16-le"),
        "__properties_version1.0": bytes(32),
        "__attach_version1.0_#00000000": {
            "__substg1.0_3707001F": "Earlier note.msg".encode("utf-16-le"),
            "__properties_version1.0": bytes(8),
            "__substg1.0_3701000D": {
                "__substg1.0_0037001F": "Earlier note".encode("utf-16-le"),
                "__substg1.0_1000001F": "Eighty prompts a day.".encode("utf-16-le"),
                "__properties_version1.0": bytes(24),
            },
        },
    }
    (mail, *_parts) = load_file(write(tmp_path / "fwd.msg", build_cfb(tree))).blocks
    assert "Earlier note" in mail.text


def test_non_ole_file_named_msg(tmp_path: Path) -> None:
    error = load_failure(write(tmp_path / "mail.msg", circular().as_bytes()))
    assert error.reason == "the file is not an Outlook message (not an OLE compound file)"
    assert "Outlook Message Format" in error.hint


def test_ole_file_without_message_properties(tmp_path: Path) -> None:
    error = load_failure(write(tmp_path / "other.msg", build_cfb({"WordDocument": b"x" * 100})))
    assert error.reason == "the mail has no text and no readable attachment"


@pytest.mark.parametrize("keep", [600, 1024, 1536])
def test_truncated_msg_fails_cleanly(tmp_path: Path, keep: int) -> None:
    data = build_msg("Subject", "Body " * 50, attachments=[("a.txt", b"attachment " * 2000)])
    error = load_failure(write(tmp_path / "cut.msg", data[:keep]))
    assert error.reason


def test_msg_cut_inside_an_attachment_is_damaged_not_read_partially(tmp_path: Path) -> None:
    data = build_msg("Subject", "Body " * 50, attachments=[("a.txt", b"attachment " * 2000)])
    error = load_failure(write(tmp_path / "cut.msg", data[: len(data) // 2]))
    assert "the Outlook message is damaged" in error.reason


# -- chunks of attachments -----------------------------------------------------------


def test_attachment_chunks_are_titled_by_the_part_and_name_the_mail(tmp_path: Path) -> None:
    message = circular(html=False)
    message.add_attachment(limits_docx(), *DOCX_TYPE, filename="limits.docx")
    doc = load_document(
        write(tmp_path / "circular.eml", message.as_bytes()),
        "circulars/circular.eml",
        max_file_mb=MAX_FILE_MB,
    )
    chunks = Chunker(HashEmbedder().token_length, chunk_tokens=200, chunk_overlap=0).chunk(doc)
    own = [c for c in chunks if "31 March" in c.text]
    attached = [c for c in chunks if "prompts a day" in c.text or "Treasury staff" in c.text]
    assert own and attached and len(own) + len(attached) == len(chunks)
    for chunk in own:
        assert chunk.title == "Circular: GenAI training"
        assert chunk.context.attachment_of == ""
    for chunk in attached:
        assert chunk.title == "Usage Limits (limits.docx)"
        assert chunk.context.attachment_of == "Circular: GenAI training"
        assert chunk.context.label == (
            "Usage Limits (limits.docx) · attachment to Circular: GenAI training"
        )
        assert chunk.source == "circulars/circular.eml"
    assert {c.section for c in attached} == {"Scope", "Daily Limits"}


def test_oversized_mail_headers_are_refused_before_parsing(tmp_path: Path) -> None:
    subject = "=?utf-8?q?-?= " * 6_000  # the email package's slow path: ~84 KB
    data = f"Subject: {subject}\r\nFrom: a@b.invalid\r\n\r\nBody.\r\n".encode()
    error = load_failure(write(tmp_path / "long.eml", data))
    assert "headers are over 64 KB" in error.reason


def test_an_unknown_charset_is_read_as_utf8_not_failed(tmp_path: Path) -> None:
    data = (
        b"Subject: Charset\r\nFrom: a@b.invalid\r\nContent-Type: text/plain; "
        b'charset="x-no-such-charset"\r\n\r\nThe limit is 80 prompts a day.\r\n'
    )
    doc = load_file(write(tmp_path / "odd.eml", data))
    assert "The limit is 80 prompts a day." in doc.blocks[0].text


def test_nul_padding_in_msg_strings_does_not_reach_the_text(tmp_path: Path) -> None:
    data = build_msg(
        "Padded\x00\x00",
        "Body with padding\x00\x00 inside.",
        sender="Desk",
        address="desk@example.invalid",
        to="All",
        date="Mon, 02 Jun 2025 09:00:00 +0800",
    )
    doc = load_file(write(tmp_path / "padded.msg", data))
    assert all("\x00" not in block.text for block in doc.blocks)
    assert "Body with padding inside." in doc.blocks[0].text


def test_a_mail_nested_thousands_deep_fails_with_a_clear_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deep(*args: object, **kwargs: object) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("ingest.loaders.load_mail", deep)
    error = load_failure(write(tmp_path / "deep.eml", b"Subject: x\r\n\r\nbody\r\n"))
    assert error.reason.startswith("the file is nested too deeply to read safely")
