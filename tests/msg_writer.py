"""A small writer of OLE compound files (MS-CFB version 3, 512-byte sectors)
and of Outlook ``.msg`` files (MS-OXMSG) built on it, for tests.

``build_cfb(tree)`` lays out a storage tree (a mapping of names to stream
bytes or to nested mappings) as real writers do: streams under 4096 bytes in
the mini stream (64-byte mini sectors, chained by the MiniFAT), larger ones in
regular sectors chained by the FAT; the FAT sectors are listed in the
header's DIFAT (up to 109 of them, about 7 MB of file: enough for tests).
Each storage's children form a balanced binary search tree in MS-CFB order
(name length, then upper-cased name), coloured as a valid red-black tree.

``build_msg(...)`` writes the property streams ``ingest.mail`` reads.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

Tree: TypeAlias = Mapping[str, "bytes | Tree"]

SECTOR = 512
MINI_SECTOR = 64
MINI_CUTOFF = 4096
IDS_PER_SECTOR = SECTOR // 4
HEADER_DIFAT = 109
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ROOT, _STORAGE, _STREAM = 5, 1, 2
_RED, _BLACK = 0, 1


@dataclass
class _Entry:
    name: str
    kind: int
    data: bytes = b""
    children: list[int] = field(default_factory=list)
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    colour: int = _BLACK
    start: int = ENDOFCHAIN
    size: int = 0


def _order(name: str) -> tuple[int, str]:
    """MS-CFB's sibling order: shorter names first, then by upper case."""
    return len(name.encode("utf-16-le")), name.upper()


def _flatten(tree: Tree, entries: list[_Entry], parent: int) -> None:
    for name, value in tree.items():
        if len(name) > 31 or any(ch in name for ch in "/\\:!"):
            raise ValueError(f"invalid compound-file name: {name!r}")
        index = len(entries)
        entries[parent].children.append(index)
        if isinstance(value, bytes | bytearray):
            entries.append(_Entry(name, _STREAM, bytes(value)))
        else:
            entries.append(_Entry(name, _STORAGE, start=0))
            _flatten(value, entries, index)


def _link(entries: list[_Entry], ids: list[int], depth: int, deepest: int) -> int:
    """Make ``ids`` (sorted) a balanced tree; returns its root. Nodes on the
    deepest level are red when it is not the root's: every path from the
    root to a leaf then passes the same number of black nodes."""
    if not ids:
        return NOSTREAM
    middle = (len(ids) - 1) // 2
    node = entries[ids[middle]]
    node.colour = _RED if depth == deepest and depth > 0 else _BLACK
    node.left = _link(entries, ids[:middle], depth + 1, deepest)
    node.right = _link(entries, ids[middle + 1 :], depth + 1, deepest)
    return ids[middle]


def _chain(fat: list[int], first: int, count: int) -> int:
    """Chain ``count`` consecutive sectors from ``first`` in ``fat``; returns the start."""
    for sector in range(first, first + count):
        fat[sector] = sector + 1 if sector + 1 < first + count else ENDOFCHAIN
    return first if count else ENDOFCHAIN


def _chain_mini(minifat: list[int], size: int) -> int:
    """Chain mini sectors for a stream of ``size`` bytes at the end of ``minifat``."""
    first, count = len(minifat), _sectors(size, MINI_SECTOR)
    minifat.extend([FREESECT] * count)
    return _chain(minifat, first, count)


def _sectors(size: int, unit: int = SECTOR) -> int:
    return -(-size // unit)


def _pad(data: bytes, unit: int = SECTOR) -> bytes:
    return data + b"\0" * (-len(data) % unit)


# name, its length in bytes, type, colour, left, right, child, CLSID, state bits,
# creation and modification times, first sector, size
_DIR_ENTRY = struct.Struct("<64sHBBIII16sIQQIQ")
_UNUSED_ENTRY = _DIR_ENTRY.pack(
    b"", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM, bytes(16), 0, 0, 0, 0, 0
)


def _directory_entry(e: _Entry) -> bytes:
    name = e.name.encode("utf-16-le") + b"\0\0"
    links = (e.left, e.right, e.child)
    return _DIR_ENTRY.pack(
        name, len(name), e.kind, e.colour, *links, bytes(16), 0, 0, 0, e.start, e.size
    )


def build_cfb(tree: Tree) -> bytes:
    """The compound file holding ``tree`` (stream names to bytes, storage names
    to nested mappings) under its root storage."""
    entries = [_Entry("Root Entry", _ROOT)]
    _flatten(tree, entries, 0)
    for entry in entries:
        ids = sorted(entry.children, key=lambda i: _order(entries[i].name))
        deepest = max(len(ids).bit_length() - 1, 0)
        entry.child = _link(entries, ids, 0, deepest)

    # The mini stream: small streams, each from a 64-byte boundary.
    small = [e for e in entries if e.kind == _STREAM and 0 < len(e.data) < MINI_CUTOFF]
    large = [e for e in entries if e.kind == _STREAM and len(e.data) >= MINI_CUTOFF]
    minifat: list[int] = []
    for entry in small:
        entry.start = _chain_mini(minifat, len(entry.data))
        entry.size = len(entry.data)
    mini_stream = b"".join(_pad(e.data, MINI_SECTOR) for e in small)
    minifat += [FREESECT] * (-len(minifat) % IDS_PER_SECTOR)  # whole sectors, the rest free
    minifat_bytes = struct.pack(f"<{len(minifat)}I", *minifat)

    # Sectors: FAT, directory, MiniFAT, mini stream, then each large stream.
    n_dir = _sectors(len(entries) * 128)
    n_minifat = _sectors(len(minifat_bytes))
    n_mini = _sectors(len(mini_stream))
    n_data = n_dir + n_minifat + n_mini + sum(_sectors(len(e.data)) for e in large)
    n_fat = 1
    while n_fat * IDS_PER_SECTOR < n_fat + n_data:
        n_fat += 1
    if n_fat > HEADER_DIFAT:
        raise ValueError("too large for a header-only DIFAT (about 7 MB)")
    fat = [FREESECT] * (n_fat * IDS_PER_SECTOR)
    fat[:n_fat] = [FATSECT] * n_fat
    cursor = n_fat
    first_dir = _chain(fat, cursor, n_dir)
    cursor += n_dir
    first_minifat = _chain(fat, cursor, n_minifat)
    cursor += n_minifat
    entries[0].start = _chain(fat, cursor, n_mini)
    entries[0].size = len(mini_stream)
    cursor += n_mini
    for entry in large:
        count = _sectors(len(entry.data))
        entry.start, entry.size = _chain(fat, cursor, count), len(entry.data)
        cursor += count

    directory = b"".join(_directory_entry(e) for e in entries)
    directory += _UNUSED_ENTRY * (-len(entries) % (SECTOR // 128))
    difat = list(range(n_fat)) + [FREESECT] * (HEADER_DIFAT - n_fat)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII109I",
        MAGIC,
        b"\0" * 16,
        0x003E,  # minor version
        3,  # major version: 512-byte sectors
        0xFFFE,  # little-endian
        9,  # sector shift: 2**9 = 512
        6,  # mini sector shift: 2**6 = 64
        b"\0" * 6,
        0,  # directory sectors: always 0 in version 3
        n_fat,
        first_dir,
        0,  # transaction signature
        MINI_CUTOFF,
        first_minifat,
        n_minifat,
        ENDOFCHAIN,  # first DIFAT sector: none beyond the header's 109
        0,
        *difat,
    )
    body = struct.pack(f"<{len(fat)}I", *fat) + directory + minifat_bytes + _pad(mini_stream)
    body += b"".join(_pad(e.data) for e in large)
    return header + body


# -- Outlook .msg ---------------------------------------------------------------

_PT_UNICODE = 0x001F


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def _properties(header: bytes, streams: Mapping[str, bytes], fixed: Mapping[int, int]) -> bytes:
    """A ``__properties_version1.0`` stream: the header, then one 16-byte entry
    per property; variable-length ones give their size, fixed ones their value."""
    rows = []
    for name, data in sorted(streams.items()):
        tag = int(name[-8:], 16)
        size = len(data) + 2 if tag & 0xFFFF == _PT_UNICODE else len(data)
        rows.append(struct.pack("<IIII", tag, 0x6, size, 0))  # readable, writable
    for tag, value in sorted(fixed.items()):
        rows.append(struct.pack("<IIQ", tag, 0x6, value))
    return header + b"".join(rows)


def build_msg(
    subject: str,
    body: str | None,
    *,
    sender: str = "Compliance Office",
    address: str = "compliance@example.com",
    to: str = "All Staff",
    date: str = "Mon, 03 Mar 2025 09:30:00 +0800",
    html: str | None = None,
    attachments: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    """An Outlook message with the given envelope, body (None: no plain-text
    body at all) and attachments (file name, data), as Outlook writes it
    (Unicode string properties)."""
    headers = f"From: {sender} <{address}>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
    streams: dict[str, bytes] = {
        "__substg1.0_0037001F": _utf16(subject),
        "__substg1.0_0C1A001F": _utf16(sender),
        "__substg1.0_0C1F001F": _utf16(address),
        "__substg1.0_0E04001F": _utf16(to),
        "__substg1.0_007D001F": _utf16(headers),
    }
    if body is not None:
        streams["__substg1.0_1000001F"] = _utf16(body)
    if html is not None:
        streams["__substg1.0_10130102"] = html.encode("utf-8")
    tree: dict[str, bytes | Tree] = dict(streams)
    for number, (name, data) in enumerate(attachments):
        parts = {"__substg1.0_3707001F": _utf16(name), "__substg1.0_37010102": data}
        attach_method = {0x37050003: 1}  # ATTACH_BY_VALUE
        tree[f"__attach_version1.0_#{number:08X}"] = {
            **parts,
            "__properties_version1.0": _properties(b"\0" * 8, parts, attach_method),
        }
    count = len(attachments)
    header = struct.pack("<8sIIII8s", b"", 0, count, 0, count, b"")  # 32 bytes: top level
    tree["__properties_version1.0"] = _properties(header, streams, {})
    tree["__nameid_version1.0"] = {}
    return build_cfb(tree)


__all__ = ["Tree", "build_cfb", "build_msg"]
