"""Hostile mails: .eml (damaged, deeply nested, odd attachments) and Outlook
.msg (from ``tests.msg_writer``, then damaged by hand)."""

from __future__ import annotations

import base64
import struct

from tests.fuzz.corpus import MUTE, CorpusWriter, Expect
from tests.fuzz.office import (
    ZipMember,
    build_zip,
    deflated_spaces,
    good_office,
    office_parts,
    zip_member,
)
from tests.fuzz.pdf import good_pdf
from tests.msg_writer import MAGIC as OLE_MAGIC
from tests.msg_writer import build_cfb, build_msg

# -- e-mail: .eml and Outlook .msg -----------------------------------------

_MAIL_HEAD = (
    "From: Fuzz Sender <fuzz@example.com>\r\nTo: staff@example.com\r\n"
    "Date: Mon, 03 Mar 2025 09:30:00 +0800\r\nMIME-Version: 1.0\r\n"
)


def eml(
    subject: str,
    body: str,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    *,
    head: str = _MAIL_HEAD,
    body_headers: str = "Content-Type: text/plain; charset=utf-8\r\n",
    boundary: str = "fuzz-boundary",
) -> bytes:
    """A mail; each attachment (file name, content type, data) in base64."""
    top = f"{head}Subject: {subject}\r\n"
    if not attachments:
        return f"{top}{body_headers}\r\n{body}\r\n".encode()
    out = [f'{top}Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n']
    out.append(f"--{boundary}\r\n{body_headers}\r\n{body}\r\n")
    for name, content_type, data in attachments:
        out.append(
            f'--{boundary}\r\nContent-Type: {content_type}; name="{name}"\r\n'
            f'Content-Disposition: attachment; filename="{name}"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{base64.encodebytes(data).decode()}"
        )
    out.append(f"--{boundary}--\r\n")
    return "".join(out).encode()


def mute_msg() -> bytes:
    """An Outlook message with no word in it, with one attachment: what the
    hostile .msg files are cut from. ``tests.msg_writer`` puts the FAT in
    sector 0 (at offset 512) and the root storage first in the directory."""
    return build_msg(MUTE, MUTE, attachments=(("a.txt", MUTE.encode()),))


def mail_broken(c: CorpusWriter) -> None:
    """Damaged and odd mails: the email package is lenient, so most of these
    read as something; none may crash."""
    kind = "mail-broken"
    base = eml(MUTE, MUTE, (("notes.txt", "text/plain", MUTE.encode() * 40),))
    for _ in range(10):
        cut = c.rng.randrange(1, len(base))
        c.add(c.name(kind, ".eml"), base[:cut], kind, "may", f"cut at {cut}")
    for _ in range(8):
        flipped = bytearray(base)
        for _ in range(c.rng.choice((1, 8, 64))):
            flipped[c.rng.randrange(len(flipped))] ^= 1 << c.rng.randrange(8)
        c.add(c.name(kind, ".eml"), bytes(flipped), kind, "may", "bits flipped")
    no_text = "no text"
    samples: list[tuple[str, bytes, Expect, str]] = [
        ("headers only", f"{_MAIL_HEAD}Subject: {MUTE}\r\n".encode(), "fail", no_text),
        ("headers and a blank body", f"Subject: {MUTE}\r\n\r\n \r\n".encode(), "fail", no_text),
        ("one header, no colon", b"Subject " + MUTE.encode(), "may", ""),
        ("a PNG named .eml", b"\x89PNG\r\n\x1a\n" + c.random_bytes(900), "may", ""),
        ("random bytes", c.random_bytes(3000), "may", ""),
        ("NUL bytes", b"\0" * 4096, "may", ""),
        ("a zip named .eml", good_office(".docx", MUTE)[:3000], "may", ""),
        # The email package's header parsing grows faster than the header:
        # 100 KB take 0.7 s, 200 KB 2.2 s.
        ("a 100 KB subject", eml("- " * 50_000, MUTE), "may", ""),
        ("a subject folded 20,000 times", eml("-\r\n " * 20_000, MUTE), "may", ""),
        ("20,000 header lines", eml(MUTE, MUTE, head="X-Fuzz: -\r\n" * 20_000), "may", ""),
        (
            "5000 recipients",
            eml(MUTE, MUTE, head="To: " + '"-" <-@->,\r\n ' * 4999 + '"-" <-@->\r\n'),
            "may",
            "",
        ),
        (
            "a recipient in 5000 nested comments",
            eml(MUTE, MUTE, head="To: " + "(" * 5000 + "x" + ")" * 5000 + " <a@b>\r\n"),
            "may",
            "",
        ),
        ("10,000 encoded words", eml("=?utf-8?q?-?= " * 10_000, MUTE), "may", ""),
        ("an encoded word in an unknown charset", eml("=?x-no-such?q?-?=", MUTE), "may", ""),
        ("an encoded word of bad base64", eml("=?utf-8?b?!!!*?=", MUTE), "may", ""),
    ]
    for note, data, expect, reason in samples:
        c.add(c.name(kind, ".eml"), data, kind, expect, note, reason)


def _multipart_nest(depth: int, inner: str) -> str:
    opening = "".join(
        f'--b{n}\r\nContent-Type: multipart/mixed; boundary="b{n + 1}"\r\n\r\n'
        for n in range(depth)
    )
    closing = "".join(f"--b{n}--\r\n" for n in reversed(range(depth + 1)))
    return (
        f'{_MAIL_HEAD}Subject: {MUTE}\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n'
        f"{opening}--b{depth}\r\nContent-Type: text/plain\r\n\r\n{inner}\r\n{closing}"
    )


def _rfc822_nest(depth: int, inner: str) -> bytes:
    """A mail attaching a mail attaching a mail... ``depth`` levels; only the
    innermost carries ``inner``."""
    message = eml(inner, inner)
    for level in range(depth):
        boundary = f"level-{level}"
        head = (
            f"{_MAIL_HEAD}Subject: {MUTE}\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n{MUTE}\r\n"
            f"--{boundary}\r\nContent-Type: message/rfc822\r\n"
            f'Content-Disposition: attachment; filename="fw.eml"\r\n\r\n'
        )
        message = head.encode() + message + f"\r\n--{boundary}--\r\n".encode()
    return message


def mail_structure(c: CorpusWriter) -> None:
    kind = "mail-structure"

    def add(note: str, data: bytes, expect: Expect = "may", **check: str) -> None:
        c.add(c.name(kind, ".eml"), data, kind, expect, note, **check)

    for depth in (30, 300, 3000):
        add(f"multipart {depth} deep", _multipart_nest(depth, MUTE).encode())
    for depth in (3, 60, 600):
        add(f"a mail attached to itself {depth} deep", _rfc822_nest(depth, MUTE))
    plain = "Content-Type: text/plain; charset={}\r\n"
    charsets = ("x-no-such-charset", "unknown-8bit", "utf-7", "idna", "rot13", "utf-16", "", "big5")
    for charset in charsets:
        headers = plain.format(f'"{charset}"')
        add(f"charset {charset!r}", eml(MUTE, MUTE + " \u00e9\u4e2d", body_headers=headers))
    encodings = {
        "base64 garbage": ("base64", "!!!*** not base64 ***!!!\r\n" * 20),
        "base64 cut mid-quantum": ("base64", base64.b64encode(MUTE.encode()).decode()[:-3]),
        "quoted-printable bad escapes": ("quoted-printable", "=ZZ=\r\n=4=" * 200),
        "uuencode garbage": ("x-uuencode", "begin 644 x\r\n" + "M" * 61 + "\r\nend\r\n"),
        "an unknown transfer encoding": ("x-fuzz", MUTE),
    }
    for note, (encoding, text) in encodings.items():
        headers = f"Content-Type: text/plain\r\nContent-Transfer-Encoding: {encoding}\r\n"
        add(note, eml(MUTE, text, body_headers=headers))
    garbage = base64.encodebytes(c.random_bytes(900)).decode().replace("A", "*")
    empty = eml(MUTE, MUTE, (("x.bin", "application/octet-stream", b""),)).decode()
    end = "\r\n--fuzz-boundary--"
    add("an attachment of base64 garbage", empty.replace(end, f"{garbage}{end}").encode())


def mail_attachments(c: CorpusWriter) -> None:
    """Mails whose attachments are broken, hostile or many: the mail indexes,
    each attachment it could not read is noted in it as not read."""
    kind = "mail-attachment"
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    broken_docx = good_office(".docx", MUTE)[:5000]
    bomb, bomb_crc = deflated_spaces(300)
    members = [zip_member(n, d) for n, d in office_parts(".docx", MUTE).items()]
    bomb_docx = build_zip([*members, ZipMember("docProps/fuzz.bin", bomb, bomb_crc, 300 << 20)])
    attached = {
        "a truncated docx": ("report.docx", docx, broken_docx),
        "a PDF of garbage": ("scan.pdf", "application/pdf", b"%PDF-1.7\n" + c.random_bytes(900)),
        "a zip bomb docx": ("bomb.docx", docx, bomb_docx),
        "an image that is not one": ("photo.png", "image/png", b"\x89PNG\r\n\x1a\n"),
        "a broken msg": ("fw.msg", "application/vnd.ms-outlook", OLE_MAGIC + c.random_bytes(600)),
        "an encrypted xlsx": ("sheet.xlsx", "application/octet-stream", OLE_MAGIC + bytes(600)),
    }
    for note, attachment in attached.items():
        data = eml(MUTE, c.sentence(), (attachment,))
        c.add(c.name(kind, ".eml"), data, kind, "index", note, holds="not read")
    good = good_office(".docx", (inner := c.sentence()))
    data = eml(MUTE, MUTE, (("sound.docx", docx, good), ("broken.docx", docx, broken_docx)))
    note = "a sound docx beside a broken one"
    c.add(c.name(kind, ".eml"), data, kind, "index", note, holds=inner)
    many = tuple((f"part{n}.bin", "application/octet-stream", b"-") for n in range(60))
    data = eml(MUTE, c.sentence(), many)
    c.add(c.name(kind, ".eml"), data, kind, "index", "60 attachments", holds="over the limit")
    names = (
        ("../../../../etc/passwd.txt", "text/plain", MUTE.encode()),
        ("/etc/cron.d/evil.txt", "text/plain", MUTE.encode()),
        ("invoice\u202etxt.exe", "application/octet-stream", b"MZ"),
        ("", "text/plain", MUTE.encode()),
        ("a" * 5000 + ".txt", "text/plain", MUTE.encode()),
    )
    data = eml(MUTE, c.sentence(), names)
    c.add(c.name(kind, ".eml"), data, kind, "index", "attachment names with paths and controls")
    words = c.sentence()
    note = "the sentence three mails deep: past the attachment depth limit"
    c.add(c.name(kind, ".eml"), _rfc822_nest(3, words), kind, "index", note, lacks=words)


def mail_msg(c: CorpusWriter) -> None:
    kind = "mail-msg"
    not_msg = "not an Outlook message"
    for note, data in (
        ("plain text", f"Subject: {c.sentence()}\r\n\r\nbody\r\n".encode()),
        ("a docx", good_office(".docx", MUTE)),
        ("a PDF", good_pdf(MUTE)),
        ("random bytes", c.random_bytes(5000)),
        ("NUL bytes", bytes(6000)),
    ):
        c.add(c.name(kind, ".msg"), data, kind, "fail", note, not_msg)
    damaged = "Outlook"
    for note, data in (
        ("OLE magic, then garbage", OLE_MAGIC + c.random_bytes(6000)),
        ("an OLE header only", build_cfb({"x": bytes(4096)})[:512]),
        ("OLE magic only", OLE_MAGIC),
    ):
        c.add(c.name(kind, ".msg"), data, kind, "fail", note, damaged)
    docx = good_office(".docx", MUTE)
    sound = build_msg(MUTE, c.sentence(), attachments=(("notes.txt", MUTE.encode()),))
    c.add(c.name(kind, ".msg"), sound, kind, "index", "a sound message")
    html = build_msg(MUTE, None, html=f"<p>{c.sentence()}</p><script>alert(1)</script>")
    c.add(c.name(kind, ".msg"), html, kind, "index", "an HTML body only", lacks="alert")
    broken = (("report.docx", docx[:6000]), ("fw.msg", OLE_MAGIC + bytes(5000)))
    attached = build_msg(MUTE, c.sentence(), attachments=broken)
    note = "a truncated docx and a broken msg attached"
    c.add(c.name(kind, ".msg"), attached, kind, "index", note, holds="not read")
    nul = build_msg(f"{MUTE}\0{MUTE}", f"{c.sentence()}\0\0\0{MUTE}\0")
    c.add(c.name(kind, ".msg"), nul, kind, "index", "NUL characters in the subject and the body")
    empty = build_msg("", "")
    c.add(c.name(kind, ".msg"), empty, kind, "fail", "no subject, no body", "no text")
    mute = mute_msg()
    for _ in range(10):
        cut = c.rng.randrange(1, len(mute))
        c.add(c.name(kind, ".msg"), mute[:cut], kind, "may", f"cut at {cut}")
    for _ in range(8):
        flipped = bytearray(mute)
        for _ in range(c.rng.choice((1, 4, 32))):
            flipped[c.rng.randrange(len(flipped))] ^= 1 << c.rng.randrange(8)
        c.add(c.name(kind, ".msg"), bytes(flipped), kind, "may", "bits flipped")
    lies = {
        "sector size 2**30": (30, "<H"),
        "FAT of 2**31 sectors": (44, "<I"),
        "directory at sector 2**31": (48, "<I"),
        "DIFAT chain into itself": (68, "<I"),
    }
    values = {"<H": 30, "<I": 0x7FFFFFFF}
    for note, (offset, form) in lies.items():
        lied = bytearray(mute)
        value = 0 if note.startswith("DIFAT") else values[form]
        lied[offset : offset + struct.calcsize(form)] = struct.pack(form, value)
        if note.startswith("DIFAT"):
            lied[72:76] = struct.pack("<I", 1)  # one DIFAT sector: sector 0, the FAT
        c.add(c.name(kind, ".msg"), bytes(lied), kind, "may", note)
    # The FAT chains every sector to itself: a stream that never ends.
    looped = bytearray(mute)
    fat_at = 512
    for sector in range(128):
        if struct.unpack_from("<I", looped, fat_at + 4 * sector)[0] < 0xFFFFFFFA:
            struct.pack_into("<I", looped, fat_at + 4 * sector, sector)
    c.add(c.name(kind, ".msg"), bytes(looped), kind, "may", "every FAT chain loops on itself")
    # A directory entry claiming a 2 GB stream.
    sized = bytearray(mute)
    directory = 512 + 512 * struct.unpack_from("<I", sized, 48)[0]
    struct.pack_into("<Q", sized, directory + 128 + 120, 0x7FFFFFFF)
    c.add(c.name(kind, ".msg"), bytes(sized), kind, "may", "a stream declaring 2 GB")
    # The root's child is the root: a directory loop.
    ring = bytearray(mute)
    struct.pack_into("<I", ring, directory + 76, 0)
    c.add(c.name(kind, ".msg"), bytes(ring), kind, "may", "the root storage is its own child")
    many = tuple((f"part{n}.bin", bytes(4096)) for n in range(60))
    data = build_msg(MUTE, c.sentence(), attachments=many)
    c.add(c.name(kind, ".msg"), data, kind, "index", "60 attachments", holds="over the limit")
