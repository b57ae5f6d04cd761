"""Hostile Word, PowerPoint and Excel files: zips by hand (truncated, flipped,
restructured, bombs), XML with entities and deep nesting, OLE containers,
lying sheet dimensions, macros."""

from __future__ import annotations

import functools
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, replace

from tests.fuzz.corpus import MUTE, CorpusWriter, Expect
from tests.msg_writer import MAGIC as OLE_MAGIC
from tests.msg_writer import build_cfb

# -- Office files: Word, PowerPoint, Excel ---------------------------------
#
# Sound files are made by their libraries, taken apart into their parts
# (name -> bytes) and zipped again by hand (``build_zip``) with fixed dates:
# the same seed writes the same bytes, and a hand-made zip can lie about
# sizes, flags and names as no library would.

OFFICE = (".docx", ".pptx", ".xlsx")
PROGRAM = {".docx": "Word", ".pptx": "PowerPoint", ".xlsx": "Excel"}
MAIN_PART = {
    ".docx": "word/document.xml",
    ".pptx": "ppt/slides/slide1.xml",
    ".xlsx": "xl/worksheets/sheet1.xml",
}
_CORE_DATES = re.compile(rb"(<dcterms:(?:created|modified)\b[^>]*>)[^<]*(</dcterms:)")
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
}
_MACRO_TYPES = {
    ".docx": "application/vnd.ms-word.document.macroEnabled.main+xml",
    ".pptx": "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
    ".xlsx": "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
}
_PACKAGE_PART = {".docx": "word/document.xml", ".pptx": "ppt/presentation.xml"}
_PACKAGE_PART[".xlsx"] = "xl/workbook.xml"


@dataclass(frozen=True, slots=True)
class ZipMember:
    name: str | bytes
    data: bytes  # as stored: raw deflate when method is 8
    crc: int
    size: int  # the unpacked size it declares
    method: int = 8
    flags: int = 0


def _deflate(raw: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
    return compressor.compress(raw) + compressor.flush()


def zip_member(name: str | bytes, raw: bytes, *, method: int = 8) -> ZipMember:
    data = _deflate(raw) if method == 8 else raw
    return ZipMember(name, data, zlib.crc32(raw), len(raw), method)


def build_zip(members: list[ZipMember], *, prefix: bytes = b"", comment: bytes = b"") -> bytes:
    """Local headers and data, the central directory and its end record, every
    date 1980-01-01; ``prefix`` goes before it all (a self-extractor's stub)."""
    out = bytearray(prefix)
    central = bytearray()
    for member in members:
        name = member.name.encode() if isinstance(member.name, str) else member.name
        offset = len(out)
        fields = struct.pack(
            "<HHHHHIII",
            20,  # version needed: 2.0
            member.flags,
            member.method,
            0,  # time
            0x21,  # date: 1980-01-01
            member.crc,
            len(member.data),
            member.size,
        )
        out += b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name + member.data
        central += b"PK\x01\x02\x14\x00" + fields
        central += struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, offset) + name
    start = len(out)
    out += central
    count = min(len(members), 0xFFFF)
    out += b"PK\x05\x06" + struct.pack(
        "<HHHHIIH", 0, 0, count, count, len(central), start, len(comment)
    )
    return bytes(out + comment)


def office_zip(parts: dict[str, bytes], *, prefix: bytes = b"", comment: bytes = b"") -> bytes:
    members = [zip_member(name, data) for name, data in parts.items()]
    return build_zip(members, prefix=prefix, comment=comment)


def _make_docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    table = document.add_table(rows=2, cols=2)
    for row, values in zip(table.rows, (("-", "*"), (".", "--")), strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _make_pptx(text: str) -> bytes:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])  # a title and a body
    assert slide.shapes.title is not None
    slide.shapes.title.text = MUTE
    slide.placeholders[1].text_frame.text = text
    if text != MUTE:  # "Notes:" leads the notes' text: a word
        notes = slide.notes_slide.notes_text_frame
        assert notes is not None
        notes.text = MUTE
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def _make_xlsx(text: str) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "- -"  # the sheet's name leads its text: no words in it
    sheet.append(["-", "*"])
    sheet.append([text, "."])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@functools.lru_cache(maxsize=16)
def _library_file(suffix: str, text: str) -> bytes:
    return {".docx": _make_docx, ".pptx": _make_pptx, ".xlsx": _make_xlsx}[suffix](text)


def office_parts(suffix: str, text: str) -> dict[str, bytes]:
    """A sound document holding ``text``, made by its library, as its parts
    (in the library's order), the dates in its properties fixed."""
    with zipfile.ZipFile(io.BytesIO(_library_file(suffix, text))) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    core = "docProps/core.xml"
    if core in parts:
        parts[core] = _CORE_DATES.sub(rb"\g<1>2024-01-02T03:04:05Z\g<2>", parts[core])
    return parts


def good_office(suffix: str, text: str) -> bytes:
    return office_zip(office_parts(suffix, text))


def _rels_of(part: str) -> str:
    folder, _, name = part.rpartition("/")
    return f"{folder}/_rels/{name}.rels"


def _add_rel(
    parts: dict[str, bytes], part: str, rel_type: str, target: str, extra: str = ""
) -> None:
    """One more relationship from ``part`` (its rels part is made if missing)."""
    rels = _rels_of(part)
    xml = parts.get(
        rels,
        b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        b'package/2006/relationships"></Relationships>',
    )
    rel = f'<Relationship Id="rIdFuzz{len(xml)}" Type="{rel_type}" Target="{target}"{extra}/>'
    parts[rels] = xml.replace(b"</Relationships>", rel.encode() + b"</Relationships>")


def _add_type(parts: dict[str, bytes], part: str, content_type: str) -> None:
    override = f'<Override PartName="/{part}" ContentType="{content_type}"/>'
    name = "[Content_Types].xml"
    parts[name] = parts[name].replace(b"</Types>", override.encode() + b"</Types>")


def _retype(parts: dict[str, bytes], old: str, new: str) -> None:
    name = "[Content_Types].xml"
    parts[name] = parts[name].replace(old.encode(), new.encode())


def office_truncated(c: CorpusWriter) -> None:
    kind = "office-truncated"
    for suffix in OFFICE:
        real, mute = good_office(suffix, c.sentence()), good_office(suffix, MUTE)
        for index in range(10):
            base = real if index == 0 else mute
            cut = c.rng.randrange(1, len(base))
            c.add(c.name(kind, suffix), base[:cut], kind, "fail", f"cut at {cut}", "not a valid")
        c.add(c.name(kind, suffix), real[:4], kind, "fail", "the zip signature only", "zip")


def office_bitflip(c: CorpusWriter) -> None:
    kind = "office-bitflip"
    for suffix in OFFICE:
        real, mute = good_office(suffix, c.sentence()), good_office(suffix, MUTE)
        for index in range(12):
            data = bytearray(real if index % 4 == 0 else mute)
            flips = c.rng.choice((1, 2, 4, 16, 64))
            for _ in range(flips):
                position = c.rng.randrange(len(data))
                data[position] ^= 1 << c.rng.randrange(8)
            c.add(c.name(kind, suffix), bytes(data), kind, "may", f"{flips} bits")


def office_structure(c: CorpusWriter) -> None:
    """Zips that are sound as zips but not as Office files, and Office files
    with odd members: what a careless converter, or an attacker, makes."""
    kind = "office-structure"
    secret = (c.outside / "secret.md").resolve().as_uri()
    for suffix in OFFICE:
        program = PROGRAM[suffix]
        main = MAIN_PART[suffix]
        sentence = c.sentence()
        words = sentence if suffix == ".docx" else MUTE  # the sound ones: one format indexes

        def parts(text: str = MUTE, s: str = suffix) -> dict[str, bytes]:
            return office_parts(s, text)

        def members(p: dict[str, bytes]) -> list[ZipMember]:
            return [zip_member(name, data) for name, data in p.items()]

        def add(
            note: str, data: bytes, expect: Expect, reason: str = "", s: str = suffix, **check: str
        ) -> None:
            c.add(c.name(kind, s), data, kind, expect, note, reason, **check)

        for missing in ("[Content_Types].xml", "_rels/.rels", main):
            without = parts()
            del without[missing]
            # openpyxl finds the workbook without the package's relationships,
            # and a workbook without its sheet has no text.
            expect: Expect = "may" if (suffix, missing) == (".xlsx", "_rels/.rels") else "fail"
            add(f"no {missing}", office_zip(without), expect, "" if suffix == ".xlsx" else program)
        add("an empty zip", build_zip([]), "fail", program)
        add("a zip of one text file", build_zip([zip_member("a.txt", b"x")]), "fail", program)
        png = parts()
        png[main] = b"\x89PNG\r\n\x1a\n" + c.random_bytes(600)
        add(f"{main} is a PNG", office_zip(png), "fail", program)
        empty = parts()
        empty[main] = b""
        add(f"{main} is empty", office_zip(empty), "fail", program)
        html = parts()
        html[main] = b"<html><body><p>" + MUTE.encode() + b"</p></body></html>"
        add(f"{main} is HTML", office_zip(html), "may")
        encoding = parts()
        encoding[main] = re.sub(
            rb"encoding=.UTF-8.", b'encoding="x-no-such"', encoding[main], count=1
        )
        add("an XML declaration of an unknown encoding", office_zip(encoding), "may")
        retyped = parts()
        other = OFFICE[(OFFICE.index(suffix) + 1) % 3]
        _retype(retyped, _MAIN_TYPES[suffix], _MAIN_TYPES[other])
        add(f"the package's main part typed as {other}'s", office_zip(retyped), "may")
        add(f"a {other} named {suffix}", good_office(other, sentence), "fail", program)
        # Member names that climb out of the folder: nothing is extracted, so harmless.
        climbing = parts(words)
        for name in ("../../etc/passwd", "/etc/shadow", "..\\..\\boot.ini", "word/../../../x"):
            climbing[name] = b"root:x:0:0:root:/root:/bin/sh\n"
        note = "members named ../../etc/passwd and /etc/shadow"
        add(note, office_zip(climbing), "may", lacks="root:x:0:0")
        # Relationships out of the package and at the file system: never followed.
        out = parts(words)
        _add_rel(out, main, f"{_REL}/image", "../../../../../../etc/passwd")
        _add_rel(out, main, f"{_REL}/image", secret, ' TargetMode="External"')
        _add_rel(out, main, f"{_REL}/hyperlink", "file:///etc/passwd", ' TargetMode="External"')
        add("relationships to ../../etc/passwd and file: URLs", office_zip(out), "may")
        template = parts(words)
        _add_rel(
            template,
            _PACKAGE_PART[suffix],
            f"{_REL}/attachedTemplate",
            "http://127.0.0.1:9/template.dotm",
            ' TargetMode="External"',
        )
        add("a remote template (a phishing staple)", office_zip(template), "may")
        twice = members(parts())
        twice.append(zip_member(main, parts(sentence)[main]))
        add(f"{main} twice in the zip", build_zip(twice), "may")
        flagged = [replace(m, flags=1) if m.name == main else m for m in members(parts())]
        add(f"{main} marked zip-encrypted", build_zip(flagged), "fail", program)
        method = [replace(m, method=99) if m.name == main else m for m in members(parts())]
        add(f"{main} in an unknown compression method", build_zip(method), "fail", program)
        stored = [zip_member(n, d, method=0) for n, d in parts(words).items()]
        add("every part stored, not deflated", build_zip(stored), "may")
        stub = b"MZ\x90\x00" + c.random_bytes(3000)
        add("a program stub before the zip", office_zip(parts(), prefix=stub), "may")
        add("a 64 KB zip comment", office_zip(parts(), comment=b"%" * 65535), "may")
        many = parts()
        for number in range(8000):
            many[f"customXml/fuzz{number}.xml"] = b"<a/>"
        add("8000 unreferenced members", office_zip(many), "may")


def _laughs(levels: int = 10) -> str:
    """The billion laughs: each entity ten of the one before, the last 10**9 "lol"s."""
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    return "".join(entities)


def _with_doctype(xml: bytes, subset: str, at: bytes, insert: bytes) -> bytes:
    """``xml`` with a DOCTYPE carrying ``subset`` (entity declarations) and
    ``insert`` put in place of the first ``at``."""
    body = xml.split(b"?>", 1)[1].lstrip() if xml.startswith(b"<?xml") else xml
    root = re.match(rb"<([\w:]+)", body)
    assert root is not None
    doctype = b"<!DOCTYPE %s [%s]>\n" % (root.group(1), subset.encode())
    head = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    assert at in body, (at, body[:300])
    return head + doctype + body.replace(at, insert, 1)


def _nest(depth: int) -> bytes:
    return b'<fz:n xmlns:fz="urn:fuzz">' + b"<fz:n>" * (depth - 1) + b"</fz:n>" * depth


_NEST_AT = {  # where each format's main part takes foreign elements
    ".docx": (b"<w:body>", b"<w:body>"),
    ".pptx": (b"<p:spTree>", b"<p:spTree>"),
    ".xlsx": (b"<sheetData>", b"<sheetData>"),
}


def office_xml(c: CorpusWriter) -> None:
    """Entities and nesting in the main part: parsers that resolve entities
    expand a billion laughs to gigabytes, and read files (or URLs) named by
    external ones; the one that matters here is the secret behind the links."""
    kind = "office-xml"
    secret = (c.outside / "secret.md").resolve().as_uri()
    for suffix in OFFICE:
        sentence = c.sentence()
        text = MUTE if suffix != ".docx" else sentence
        base = office_parts(suffix, text)
        main = MAIN_PART[suffix]
        at = text.encode()
        samples: list[tuple[str, str, bytes]] = [
            ("billion laughs", _laughs(), at + b" &lol9;"),
            ("quadratic blowup", f'<!ENTITY big "{"-" * 50_000}">', at + b"&big;" * 20_000),
            ("external entity: the secret file", f'<!ENTITY x SYSTEM "{secret}">', at + b" &x;"),
            (
                "external entity: /etc/passwd",
                '<!ENTITY x SYSTEM "file:///etc/passwd">',
                at + b"&x;",
            ),
            (
                "external parameter entity",
                f'<!ENTITY % p SYSTEM "{secret}"> %p;',
                at,
            ),
            ("external entity: a URL", '<!ENTITY x SYSTEM "http://127.0.0.1:9/x">', at + b"&x;"),
            ("undeclared entity", "", at + b" &nosuch;"),
        ]
        for note, subset, insert in samples:
            parts = dict(base)
            parts[main] = _with_doctype(parts[main], subset, at, insert)
            c.add(c.name(kind, suffix), office_zip(parts), kind, "may", note, lacks="lollollol")
        place, after = _NEST_AT[suffix]
        for depth in (200, 5_000, 100_000):
            parts = dict(base)
            parts[main] = parts[main].replace(place, after + _nest(depth), 1)
            c.add(c.name(kind, suffix), office_zip(parts), kind, "may", f"elements {depth} deep")


@functools.lru_cache(maxsize=4)
def deflated_spaces(size_mb: int) -> tuple[bytes, int]:
    """Raw deflate of ``size_mb`` MB of spaces, and their CRC-32, made without
    holding the spaces."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b" " * (1 << 20)
    out = bytearray()
    crc = 0
    for _ in range(size_mb):
        out += compressor.compress(block)
        crc = zlib.crc32(block, crc)
    return bytes(out + compressor.flush()), crc


def office_bombs(c: CorpusWriter) -> None:
    kind = "office-zip-bomb"
    big, big_crc = deflated_spaces(300)  # 300 MB: over the ratio limit for a small file
    two, two_crc = deflated_spaces(2)
    bomb = "zip bomb"
    for suffix in OFFICE:
        members = [zip_member(n, d) for n, d in office_parts(suffix, MUTE).items()]
        main = MAIN_PART[suffix]

        def add(
            note: str, data: list[ZipMember], expect: Expect, reason: str, s: str = suffix
        ) -> None:
            c.add(c.name(kind, s), build_zip(data), kind, expect, note, reason)

        honest = ZipMember("docProps/fuzz.bin", big, big_crc, 300 << 20)
        add("a 300 MB part, declared", [*members, honest], "fail", bomb)
        # zipfile inflates a read's whole input before it cuts the output to
        # the declared size: this one meets the memory limit (Excel's reader
        # reads in small steps and finds the checksum wrong).
        lying = [ZipMember(m.name, big, big_crc, 2000) if m.name == main else m for m in members]
        add(f"{main} declares 2 KB, inflates to 300 MB", lying, "fail", "")
        if suffix != ".docx":
            continue
        spread = [ZipMember(f"word/media/fuzz{n}.bin", two, two_crc, 2 << 20) for n in range(120)]
        add("120 parts of 2 MB", [*members, *spread], "fail", bomb)
        huge = [*members, ZipMember("docProps/fuzz.bin", b"", 0, 0xFFFFFFFF)]
        add("a part declaring 4 GB", huge, "fail", bomb)
    # Under the limits (150 MB from a 180 KB file), and read: the image a
    # document part refers to is loaded whole.
    parts = office_parts(".docx", c.sentence())
    _add_rel(parts, "word/document.xml", f"{_REL}/image", "media/image1.png")
    _add_type(parts, "word/media/image1.png", "image/png")
    image, image_crc = deflated_spaces(150)
    members = [zip_member(n, d) for n, d in parts.items()]
    members.append(ZipMember("word/media/image1.png", image, image_crc, 150 << 20))
    note = "a referenced 150 MB image part, under the limits"
    c.add(c.name(kind, ".docx"), build_zip(members), kind, "may", note)


# -- OLE compound files (encrypted Office, legacy Office, Outlook .msg) -----

# Well-formed compound files come from ``tests.msg_writer``; what is made
# here is what no writer would make: lying headers, loops, truncations.


def office_ole(c: CorpusWriter) -> None:
    """What an encrypted Office file is (an OLE container holding the
    encrypted package), and legacy binary files given the new extension."""
    kind = "office-ole"
    protected = "password-protected"
    legacy = {".docx": "WordDocument", ".pptx": "PowerPoint Document", ".xlsx": "Workbook"}
    for suffix in OFFICE:

        def add(note: str, data: bytes, s: str = suffix) -> None:
            c.add(c.name(kind, s), data, kind, "fail", note, protected)

        add("OLE magic, then garbage", OLE_MAGIC + c.random_bytes(6000))
        add("OLE magic only", OLE_MAGIC)
        encrypted = {
            "EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00" + c.random_bytes(4088),
            "EncryptedPackage": struct.pack("<Q", 9000) + c.random_bytes(9000),
        }
        add("an encrypted package (agile encryption)", build_cfb(encrypted))
        binary = {legacy[suffix]: c.random_bytes(5000), "\x05SummaryInformation": bytes(4096)}
        add(f"a legacy binary file ({legacy[suffix]} stream)", build_cfb(binary))


def office_cells(c: CorpusWriter) -> None:
    kind = "office-many-cells"
    over = "cells"
    base = office_parts(".xlsx", MUTE)
    main = MAIN_PART[".xlsx"]
    sheet = base[main]

    def with_data(data: bytes, dimension: bytes | None = None) -> bytes:
        parts = dict(base)
        xml = re.sub(rb"<sheetData>.*</sheetData>", lambda _: data, sheet, flags=re.S)
        if dimension is not None:
            xml = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="%s"/>' % dimension, xml)
        parts[main] = xml
        return office_zip(parts)

    def add(note: str, data: bytes, expect: Expect, reason: str = "") -> None:
        c.add(c.name(kind, ".xlsx"), data, kind, expect, note, reason)

    # A sheet of over MAX_CELLS real cells takes 3-5 s to reach the limit
    # (read-only openpyxl, two busy cores), at the test's 5 s parse limit: the
    # limit is met here by a dimension that lies instead. Read-only openpyxl
    # reads what the dimension says is used, so a stale one drops the rest.
    row = b"<row>" + b"<c><v>1</v></c>" * 1000 + b"</row>"
    stale = b"<sheetData>" + row * 1001 + b"</sheetData>"
    add("1,001,000 cells under a stale dimension of A1:B2", with_data(stale), "may")
    last = b'<sheetData><row r="1048576"><c r="A1048576"><v>1</v></c></row></sheetData>'
    note = "dimension A1:XFD1048576, one cell in the last row"
    add(note, with_data(last, b"A1:XFD1048576"), "fail", over)
    first = b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>-</t></is></c></row></sheetData>'
    add("dimension A1:XFD1, one cell", with_data(first, b"A1:XFD1"), "may")
    add("dimension of nonsense", with_data(first, b"ZZZZZZ0:-1"), "may")
    far = b'<sheetData><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
    add("one cell at XFD1048576, no dimension", with_data(far, b""), "may")
    shared = b'<sheetData><row r="1"><c r="A1" t="s"><v>99999</v></c></row></sheetData>'
    add("a shared string index out of range", with_data(shared), "may")
    formula = (
        b'<sheetData><row r="1"><c r="A1"><f>cmd|\' /C calc\'!A0</f></c>'
        b'<c r="B1" t="str"><f>HYPERLINK("http://127.0.0.1:9/","x")</f><v>x</v></c></row></sheetData>'
    )
    add("a DDE formula and a hyperlink formula", with_data(formula), "may")


def office_macros(c: CorpusWriter) -> None:
    """Macros and embedded programs are never run: a file carrying them is
    read like any other (the ones with a sentence must index)."""
    kind = "office-macro"
    vba = build_cfb(
        {"VBA": {"dir": c.random_bytes(4096), "ThisDocument": b"Sub AutoOpen()\r\n" * 300}}
    )
    vba_type = "application/vnd.ms-office.vbaProject"
    vba_rel = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
    for suffix in OFFICE:
        owner = _PACKAGE_PART[suffix]
        folder = owner.split("/")[0]
        parts = office_parts(suffix, c.sentence() if suffix == ".docx" else MUTE)
        parts[f"{folder}/vbaProject.bin"] = vba
        _add_type(parts, f"{folder}/vbaProject.bin", vba_type)
        _add_rel(parts, owner, vba_rel, "vbaProject.bin")
        expect: Expect = "index" if suffix == ".docx" else "may"
        note = "a vbaProject.bin part, the type left as it is"
        c.add(c.name(kind, suffix), office_zip(parts), kind, expect, note)
        _retype(parts, _MAIN_TYPES[suffix], _MACRO_TYPES[suffix])
        note = "macro-enabled (.docm, .pptm, .xlsm) under the plain extension"
        c.add(c.name(kind, suffix), office_zip(parts), kind, "may", note)
    parts = office_parts(".docx", c.sentence())
    parts["word/embeddings/oleObject1.bin"] = build_cfb(
        {"\x01Ole10Native": b"MZ\x90\x00" + c.random_bytes(5000)}
    )
    ole_type = "application/vnd.openxmlformats-officedocument.oleObject"
    _add_type(parts, "word/embeddings/oleObject1.bin", ole_type)
    _add_rel(parts, "word/document.xml", f"{_REL}/oleObject", "embeddings/oleObject1.bin")
    note = "an embedded OLE object holding a program"
    c.add(c.name(kind, ".docx"), office_zip(parts), kind, "index", note)
