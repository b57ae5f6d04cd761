"""Hostile and malformed corpus files for the ingestion fuzz test (issue 15).

``generate(folder, seed=N)`` writes 500+ bad files over every supported format
(PDF, Markdown, HTML, text) and returns what it wrote, each file with its kind
and what ingestion must do with it:

- ``fail``: reported as FAILED with a reason and a hint, never indexed;
- ``may``: indexed or reported as failed (a PDF with JavaScript but real text
  may well index), never missing from the report, never a crash;
- ``index``: a sound document whose only oddity is its name or its place (a
  link inside the corpus, a file just under the size limit): it must index;
- ``skip``: not a supported type (or a link to a folder): reported as skipped.

Everything is built here, byte by byte (PDFs by hand, with computed xref
offsets, or with pypdf's writer for encryption, scripts and attachments), from
a seeded ``random.Random``: the same seed writes the same bytes. Files that
may index carry one short sentence each, so indexing them stays cheap.

Run ``python -m tests.fuzz_corpus OUTDIR --seed N`` to write a corpus for a
manual run or a benchmark; it prints the counts by kind.
"""

from __future__ import annotations

import argparse
import codecs
import io
import os
import random
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Expect = Literal["fail", "may", "index", "skip"]

OUTSIDE_CANARY = "CANARY-OUTSIDE-4242-ZINC"
"""Written only outside the corpus folder, behind links; must never be indexed."""

SENTENCE = "The fuzz sample {n} says the liquidity buffer stayed above the floor."
MUTE = "- - - . . . * * *"
"""Text with no word in it: a file carrying it is parsed as far as it goes and
then fails as "no indexable text" instead of being embedded. Two in three
samples of the kinds that parse carry it, which keeps the embedding, the
largest cost of a run, to about a hundred files."""

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class FuzzFile:
    path: str  # relative to the corpus folder, as os.fsdecode gives it (may hold surrogates)
    kind: str
    expect: Expect
    note: str = ""
    reason: str = ""  # for some "fail" files: words the failure's reason must hold

    @property
    def suffix(self) -> str:
        return os.path.splitext(self.path)[1].lower()


@dataclass(frozen=True, slots=True)
class FuzzCorpus:
    folder: Path
    outside: Path  # a sibling folder the links point into
    files: tuple[FuzzFile, ...]
    not_made: tuple[str, ...]  # "kind: why" for files this filesystem refused

    def by_expect(self, expect: Expect) -> list[FuzzFile]:
        return [f for f in self.files if f.expect == expect]


def counts_by_kind(files: tuple[FuzzFile, ...] | list[FuzzFile]) -> dict[str, int]:
    """How many files of each kind, largest first."""
    return dict(Counter(f.kind for f in files).most_common())


def counts_by_expect(files: tuple[FuzzFile, ...] | list[FuzzFile]) -> dict[str, int]:
    return dict(Counter(f.expect for f in files).most_common())


# -- PDF by hand -----------------------------------------------------------

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"  # the binary comment marks it as binary


def pdf_text(text: str) -> bytes:
    """A PDF literal string body (Latin-1), with its delimiters escaped."""
    raw = text.encode("latin-1", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def text_ops(text: str, y: int = 720) -> bytes:
    return b"BT /F1 12 Tf 72 %d Td (%s) Tj ET" % (y, pdf_text(text))


def stream(data: bytes, *, compress: bool = False, extra: bytes = b"") -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        extra = b" /Filter /FlateDecode" + extra
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def build_pdf(
    objects: list[bytes],
    *,
    root: int = 1,
    trailer_extra: bytes = b"",
    header: bytes = HEADER,
) -> bytes:
    """Objects numbered from 1 in order, a classic xref table, a trailer."""
    out = bytearray(header)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R%s >>\n" % (len(objects) + 1, root, trailer_extra)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def page_pdf(
    contents: list[bytes],
    *,
    catalog_extra: bytes = b"",
    page_extra: bytes = b"",
    resources_extra: bytes = b"",
    extra_objects: list[bytes] | None = None,
    trailer_extra: bytes = b"",
    compress: bool = False,
    header: bytes = HEADER,
) -> bytes:
    """One page per content stream. Objects: 1 catalog, 2 pages, 3 font,
    4.. extra objects, then per page a page and its content."""
    extra = list(extra_objects or [])
    first_page = 4 + len(extra)
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(len(contents)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R%s >>" % catalog_extra,
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(contents)),
        FONT,
        *extra,
    ]
    for index, content in enumerate(contents):
        page = first_page + 2 * index
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >>%s >> /Contents %d 0 R%s >>"
            % (resources_extra, page + 1, page_extra)
        )
        objects.append(stream(content, compress=compress))
    return build_pdf(objects, trailer_extra=trailer_extra, header=header)


def good_pdf(text: str, *, compress: bool = True) -> bytes:
    return page_pdf([text_ops(text)], compress=compress)


# -- the writer ------------------------------------------------------------


class _Corpus:
    def __init__(self, folder: Path, outside: Path, rng: random.Random, max_file_mb: float):
        self.folder = folder
        self.outside = outside
        self.rng = rng
        self.limit = int(max_file_mb * 1024 * 1024)
        self.files: list[FuzzFile] = []
        self.not_made: list[str] = []
        self._n = 0

    def sentence(self) -> str:
        self._n += 1
        return SENTENCE.format(n=self._n)

    def name(self, kind: str, suffix: str) -> str:
        return f"{kind}/{kind}-{len(self.files):04d}{suffix}"

    def _target(self, name: str | bytes) -> Path:
        path = self.folder / os.fsdecode(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def add(
        self,
        name: str | bytes,
        data: bytes,
        kind: str,
        expect: Expect,
        note: str = "",
        reason: str = "",
    ) -> None:
        try:
            self._target(name).write_bytes(data)
        except OSError as exc:
            self.not_made.append(f"{kind}: {os.fsdecode(name)!r}: {exc.strerror}")
            return
        self.files.append(FuzzFile(os.fsdecode(name), kind, expect, note, reason))

    def link(
        self, name: str, target: str | Path, kind: str, expect: Expect, reason: str = ""
    ) -> None:
        """A symbolic link at ``name``; a Path target is made relative to it."""
        path = self._target(name)
        if isinstance(target, Path):
            target = os.path.relpath(target, path.parent)
        try:
            os.symlink(target, path)
        except OSError as exc:
            self.not_made.append(f"{kind}: {name!r}: {exc.strerror}")
            return
        self.files.append(FuzzFile(name, kind, expect, f"-> {target}", reason))

    def special(
        self, name: str, make: Callable[[Path], None], kind: str, expect: Expect, reason: str = ""
    ) -> None:
        path = self._target(name)
        try:
            make(path)
        except (OSError, AttributeError) as exc:
            self.not_made.append(f"{kind}: {name!r}: {exc}")
            return
        self.files.append(FuzzFile(name, kind, expect, "", reason))

    def random_bytes(self, size: int) -> bytes:
        data = bytearray(self.rng.randbytes(size))
        data[self.rng.randrange(size)] = 0xFF  # never valid UTF-8
        return bytes(data)


# -- PDF kinds -------------------------------------------------------------


def _corpus_pdfs() -> list[bytes]:
    folder = REPO_ROOT / "corpus"
    return [p.read_bytes() for p in sorted(folder.glob("*.pdf"))] if folder.is_dir() else []


def pdf_truncated(c: _Corpus) -> None:
    base = good_pdf(c.sentence())
    for _ in range(34):
        cut = c.rng.randrange(1, len(base))
        c.add(c.name("pdf-truncated", ".pdf"), base[:cut], "pdf-truncated", "may", f"cut at {cut}")
    for data in _corpus_pdfs()[:2]:  # real files, cut before their xref and after
        for share in (0.3, 0.97):
            cut = int(len(data) * share)
            c.add(c.name("pdf-truncated", ".pdf"), data[:cut], "pdf-truncated", "may")
    for cut in (4, 9, len(HEADER)):  # nothing but (part of) the header
        c.add(c.name("pdf-truncated", ".pdf"), base[:cut], "pdf-truncated", "fail")


def pdf_bitflip(c: _Corpus) -> None:
    bases = [good_pdf(c.sentence()), good_pdf(MUTE, compress=False)]
    for index in range(70):
        data = bytearray(bases[index % 2])
        for _ in range(c.rng.choice((1, 2, 4, 8, 32, 128))):
            position = c.rng.randrange(len(data))
            data[position] ^= 1 << c.rng.randrange(8)
        c.add(c.name("pdf-bitflip", ".pdf"), bytes(data), "pdf-bitflip", "may")


def pdf_xref(c: _Corpus) -> None:
    kind = "pdf-broken-xref"
    real = _xref_variants(c, good_pdf(c.sentence()))
    mute = _xref_variants(c, good_pdf(MUTE))
    for index, note in enumerate(real):
        data = real[note] if index % 3 == 0 else mute[note]
        c.add(c.name(kind, ".pdf"), data, kind, "may", note)


def _xref_variants(c: _Corpus, base: bytes) -> dict[str, bytes]:
    head, _, tail = base.rpartition(b"startxref\n")
    xref_at = int(tail.split(b"\n")[0])
    table_start = base.index(b"xref\n0 ")
    body, table = base[:table_start], base[table_start:]
    variants = {
        "startxref past the end": head + b"startxref\n99999999\n%%EOF\n",
        "startxref zero": head + b"startxref\n0\n%%EOF\n",
        "startxref negative": head + b"startxref\n-42\n%%EOF\n",
        "startxref not a number": head + b"startxref\nabc\n%%EOF\n",
        "no startxref": head + b"%%EOF\n",
        "no %%EOF": base.replace(b"%%EOF", b""),
        "no xref table": body + b"trailer\n<< /Size 6 /Root 1 0 R >>\n%%EOF\n",
        "offsets shifted": body + table.replace(b" 00000 n", b" 00007 n"),
        "all offsets zero": body
        + b"xref\n0 6\n"
        + b"0000000000 65535 f \n" * 6
        + table[table.index(b"trailer") :],
        "garbage table": body
        + b"xref\n0 6\n"
        + c.random_bytes(120)
        + b"\n"
        + table[table.index(b"trailer") :],
        "count too large": body + table.replace(b"xref\n0 6", b"xref\n0 99999999", 1),
        "size huge": base.replace(b"/Size 6", b"/Size 2147483648"),
        "root missing": base.replace(b"/Root 1 0 R", b""),
        "root to nowhere": base.replace(b"/Root 1 0 R", b"/Root 999 0 R"),
        "trailer missing": body + table.replace(b"trailer", b"trailor"),
        "prev loop": base.replace(b"/Root 1 0 R", b"/Root 1 0 R /Prev %d" % xref_at),
        "prev garbage": base.replace(b"/Root 1 0 R", b"/Root 1 0 R /Prev 12"),
        "xrefstm garbage": base.replace(b"/Root 1 0 R", b"/Root 1 0 R /XRefStm 30"),
        "two trailers": base + b"trailer\n<< /Size 3 /Root 2 0 R >>\nstartxref\n5\n%%EOF\n",
        "junk before header": c.random_bytes(700) + base,
        "junk after eof": base + c.random_bytes(3000),
        "header late": b"\n" * 2000 + base,
        "version 9.9": base.replace(b"%PDF-1.7", b"%PDF-9.9", 1),
        "xref stream garbage": body
        + b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 2 1] /Root 1 0 R /Length 30 >>\nstream\n"
        + c.random_bytes(30)
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % len(body),
        "xref stream huge w": body
        + b"7 0 obj\n<< /Type /XRef /Size 8 /W [9999 9999 9999] /Root 1 0 R /Length 4 >>\n"
        b"stream\nabcd\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % len(body),
        "object numbers huge": base.replace(b"5 0 obj", b"9223372036854775807 0 obj"),
        "generation huge": base.replace(b"5 0 obj", b"5 99999999999 obj"),
        "endobj missing": base.replace(b"endobj", b""),
        "obj keyword missing": base.replace(b" 0 obj", b" 0 ob"),
        "crlf everywhere": base.replace(b"\n", b"\r\n"),
    }
    return variants


def pdf_loops(c: _Corpus) -> None:
    kind = "pdf-object-loop"
    text = text_ops(c.sentence())

    def objs(*bodies: bytes, trailer_extra: bytes = b"") -> bytes:
        return build_pdf(list(bodies), trailer_extra=trailer_extra)

    page = b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
    variants: dict[str, tuple[bytes, Expect]] = {
        # The page tree holds itself; its only other kid is a page with text.
        "kids hold the pages node": (
            objs(
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                page,
                FONT,
                stream(text),
            ),
            "may",
        ),
        "pages node is its own only kid": (
            objs(
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
            ),
            "fail",
        ),
        "two pages nodes in a ring": (
            objs(
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>",
            ),
            "fail",
        ),
        "root is a reference to itself": (
            objs(b"1 0 R", b"<< /Type /Pages /Kids [] /Count 0 >>"),
            "fail",
        ),
        "contents array holds itself": (
            objs(
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> "
                b"/Contents 5 0 R >>",
                FONT,
                b"[5 0 R 6 0 R]",
                stream(text),
            ),
            "may",
        ),
        "length refers to itself": (
            objs(
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                page,
                FONT,
                b"<< /Length 6 0 R >>\nstream\n" + text + b"\nendstream",
                b"6 0 R",
            ),
            "may",
        ),
        "form draws itself": (
            objs(
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> "
                b"/XObject << /X1 6 0 R >> >> /Contents 5 0 R >>",
                FONT,
                stream(text + b" /X1 Do"),
                b"<< /Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << "
                b"/XObject << /X1 6 0 R >> /Font << /F1 4 0 R >> >> /Length 26 >>\n"
                b"stream\nBT (loop) Tj ET /X1 Do   \nendstream",
            ),
            "may",
        ),
        "outline ring": (
            objs(
                b"<< /Type /Catalog /Pages 2 0 R /Outlines 6 0 R /PageMode /UseOutlines >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                page,
                FONT,
                stream(text),
                b"<< /Type /Outlines /First 7 0 R /Last 7 0 R /Count 1 >>",
                b"<< /Title (a) /Parent 6 0 R /Next 7 0 R /Prev 7 0 R /First 7 0 R "
                b"/Dest [3 0 R /Fit] >>",
            ),
            "may",
        ),
        "resources inherit in a ring": (
            objs(
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 3 0 R >>",
                b"<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>",
                FONT,
                stream(text),
            ),
            "may",
        ),
        "chain of 3000 references": (
            build_pdf(
                [
                    b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> "
                    b"/Contents 5 0 R /Rotate 6 0 R >>",
                    FONT,
                    stream(text),
                    *[b"%d 0 R" % (n + 1) for n in range(6, 3006)],
                    b"0",
                ]
            ),
            "may",
        ),
    }
    for note, (data, expect) in variants.items():
        c.add(c.name(kind, ".pdf"), data, kind, expect, note)


def pdf_deep(c: _Corpus) -> None:
    kind = "pdf-deep-nesting"
    text = text_ops(c.sentence())
    for depth in (100, 5_000, 50_000):
        arrays = b"[" * depth + b"]" * depth
        dicts = b"<< /A " * depth + b">> " * depth
        c.add(
            c.name(kind, ".pdf"),
            page_pdf([text], page_extra=b" /Junk " + arrays),
            kind,
            "may",
            f"arrays {depth} deep in the page",
        )
        c.add(
            c.name(kind, ".pdf"),
            page_pdf([text], catalog_extra=b" /Junk " + dicts),
            kind,
            "may",
            f"dictionaries {depth} deep in the catalog",
        )
        c.add(
            c.name(kind, ".pdf"),
            page_pdf([b"q " * depth + text + b" Q" * depth]),
            kind,
            "may",
            f"graphics states {depth} deep",
        )
    c.add(
        c.name(kind, ".pdf"),
        page_pdf([b"BT " + b"[" * 100_000 + b"(x)" + b"]" * 100_000 + b" TJ ET"]),
        kind,
        "may",
        "TJ array nested 100k deep",
    )
    c.add(
        c.name(kind, ".pdf"),
        page_pdf([b"BT /F1 12 Tf (" + b"(" * 30_000 + b")" * 30_000 + b") Tj ET"]),
        kind,
        "may",
        "string with 30k nested parentheses",
    )
    # The pages tree itself 2,000 levels deep, with the text page at the bottom.
    depth = 2000
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        number = level + 2
        parent = b" /Parent %d 0 R" % (number - 1) if level else b""
        objects.append(b"<< /Type /Pages /Kids [%d 0 R] /Count 1%s >>" % (number + 1, parent))
    page_number = depth + 2
    objects.append(
        b"<< /Type /Page /Parent %d 0 R /Resources << /Font << /F1 %d 0 R >> >> "
        b"/Contents %d 0 R >>" % (page_number - 1, page_number + 1, page_number + 2)
    )
    objects += [FONT, stream(text)]
    c.add(c.name(kind, ".pdf"), build_pdf(objects), kind, "may", "page tree 2000 deep")


def _bomb_stream(size_mb: int) -> bytes:
    """zlib data that inflates to ``size_mb`` MB of spaces, made without
    holding the inflated bytes."""
    compressor = zlib.compressobj(9)
    block = b" " * (1 << 20)
    out = bytearray()
    for _ in range(size_mb):
        out += compressor.compress(block)
    out += compressor.flush()
    return bytes(out)


def pdf_bombs(c: _Corpus) -> None:
    kind = "pdf-flate-bomb"
    big = _bomb_stream(400)  # one stream of 400 MB: over pypdf's own cap
    part = _bomb_stream(70)  # under the cap, but ten of them on one page
    flate = b" /Filter /FlateDecode"
    one = b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(big), flate, big)
    piece = b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(part), flate, part)
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"

    def page(contents: bytes, pages_extra: bytes = b"") -> list[bytes]:
        return [
            catalog,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1%s >>" % pages_extra,
            b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> "
            b"/Contents %s >>" % contents,
            FONT,
        ]

    c.add(
        c.name(kind, ".pdf"),
        build_pdf([*page(b"5 0 R"), one]),
        kind,
        "fail",
        "one 400 MB content stream",
    )
    tens = b"[" + b" ".join(b"%d 0 R" % n for n in range(5, 15)) + b"]"
    c.add(
        c.name(kind, ".pdf"),
        build_pdf([*page(tens), *[piece] * 10]),
        kind,
        "fail",
        "ten 70 MB content streams on one page",
    )
    # Five pages, each with ten such streams.
    objects = [catalog, b"<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R 6 0 R 7 0 R] /Count 5 >>"]
    for _ in range(5):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 8 0 R >> >> "
            b"/Contents [" + b" ".join(b"%d 0 R" % n for n in range(9, 19)) + b"] >>"
        )
    objects += [FONT, *[piece] * 10]
    c.add(c.name(kind, ".pdf"), build_pdf(objects), kind, "fail", "five pages, 700 MB each")
    c.add(
        c.name(kind, ".pdf"),
        build_pdf(
            [
                *page(b"5 0 R"),
                b"<< /Length %d%s%s >>\nstream\n%s\nendstream"
                % (len(part), flate, b" /DecodeParms << /Predictor 12 /Columns 9999999 >>", part),
            ]
        ),
        kind,
        "fail",
        "a predictor with absurd columns",
    )
    # A 70 MB string of spaces in one Tj (70 KB compressed, under pypdf's
    # stream cap): its tokenizer reads strings a byte at a time, so this one
    # runs into the parse time limit.
    content = zlib.compress(b"BT /F1 12 Tf (" + b" " * (70 << 20) + b") Tj ET", 9)
    c.add(
        c.name(kind, ".pdf"),
        build_pdf(
            [
                *page(b"5 0 R"),
                b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(content), flate, content),
            ]
        ),
        kind,
        "fail",
        "a 70 MB string in one text operator",
    )
    # Nested filters: a stream compressed three times over.
    inner = zlib.compress(zlib.compress(zlib.compress(b" " * (60 << 20), 9), 9), 9)
    c.add(
        c.name(kind, ".pdf"),
        build_pdf(
            [
                *page(b"5 0 R"),
                b"<< /Length %d /Filter [/FlateDecode /FlateDecode /FlateDecode] >>\nstream\n%s"
                b"\nendstream" % (len(inner), inner),
            ]
        ),
        kind,
        "fail",
        "a 60 MB stream compressed three times",
    )


def pdf_many_pages(c: _Corpus) -> None:
    kind = "pdf-many-pages"
    # 3,000 pages sharing one empty content stream: no text anywhere.
    count = 3000
    kids = b" ".join(b"%d 0 R" % (n + 5) for n in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        FONT,
        stream(b""),
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"
    objects += [page] * count
    c.add(c.name(kind, ".pdf"), build_pdf(objects), kind, "fail", "3000 empty pages")
    # 2,000 pages sharing one line of text: every page's only line is a
    # running header, so it is stripped everywhere.
    shared = stream(text_ops(c.sentence()))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (n + 5) for n in range(2000)), 2000),
        FONT,
        shared,
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    objects += [page] * 2000
    c.add(c.name(kind, ".pdf"), build_pdf(objects), kind, "may", "2000 identical pages")
    # /Count lies: says a billion pages.
    data = good_pdf(c.sentence()).replace(b"/Count 1", b"/Count 1000000000")
    c.add(c.name(kind, ".pdf"), data, kind, "may", "/Count 1000000000")
    # 150 pages with a few words each: a long but sound document.
    # Words no question of the test asks about, so these pages never outrank the good files.
    words = "amber basil cedar dune ember fjord grove heron iris juniper".split()
    contents = [text_ops(" ".join(c.rng.choice(words) for _ in range(6)) + ".") for _ in range(150)]
    c.add(c.name(kind, ".pdf"), page_pdf(contents, compress=True), kind, "may", "150 pages")


def _pypdf_variant(base: bytes, change: Callable[..., object]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(base)))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _javascript(code: str) -> object:
    from pypdf.actions import JavaScript

    return JavaScript(code)


def pdf_active(c: _Corpus) -> None:
    kind = "pdf-javascript-attachments"

    def add(note: str, data: bytes) -> None:
        c.add(c.name(kind, ".pdf"), data, kind, "may", note)

    text = text_ops(c.sentence())
    add(
        "OpenAction JavaScript",
        page_pdf(
            [text],
            catalog_extra=b" /OpenAction << /S /JavaScript /JS (app.alert\\('pwned'\\); "
            b"this.exportDataObject\\({cName: 'a', nLaunch: 2}\\);) >>",
        ),
    )
    add(
        "JavaScript name tree with a stream",
        page_pdf(
            [text],
            catalog_extra=b" /Names << /JavaScript << /Names [(init) << /S /JavaScript "
            b"/JS 4 0 R >>] >> >>",
            extra_objects=[stream(b"while(true){app.beep(0);}")],
        ),
    )
    add(
        "Launch action on page open",
        page_pdf(
            [text],
            page_extra=b" /AA << /O << /S /Launch /Win << /F (cmd.exe) /P (/c calc) >> >> >>",
        ),
    )
    add(
        "link annotations: URI, GoToR, SubmitForm",
        page_pdf(
            [text],
            page_extra=b" /Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI "
            b"/URI (javascript:alert\\(1\\)) >> >> << /Type /Annot /Subtype /Link /Rect "
            b"[0 0 9 9] /A << /S /GoToR /F (\\\\\\\\evil\\\\share\\\\x.pdf) /D [0 /Fit] >> >> "
            b"<< /Type /Annot /Subtype /Widget /Rect [0 0 9 9] /A << /S /SubmitForm /F "
            b"(http://127.0.0.1:9/steal) >> >>]",
        ),
    )
    add(
        "XFA form",
        page_pdf(
            [text],
            catalog_extra=b" /AcroForm << /Fields [] /XFA 4 0 R >> /NeedsRendering true",
            extra_objects=[
                stream(
                    b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'><script>x()</script></xdp:xdp>"
                )
            ],
        ),
    )
    add(
        "RichMedia annotation with a Flash stream",
        page_pdf(
            [text],
            page_extra=b" /Annots [<< /Type /Annot /Subtype /RichMedia /Rect [0 0 9 9] "
            b"/RichMediaContent << /Assets << /Names [(a.swf) << /EF << /F 4 0 R >> >>] >> >> >>]",
            extra_objects=[stream(b"FWS\x09" + c.rng.randbytes(200))],
        ),
    )
    base = good_pdf(c.sentence())
    add(
        "pypdf open action",
        _pypdf_variant(base, lambda w: w.add_open_action(_javascript("app.alert('pypdf');"))),
    )
    add(
        "an .exe attachment",
        _pypdf_variant(
            base, lambda w: w.add_attachment("invoice.exe", b"MZ\x90\x00" + c.rng.randbytes(2000))
        ),
    )
    add(
        "a PDF inside a PDF",
        _pypdf_variant(base, lambda w: w.add_attachment("inner.pdf", good_pdf(c.sentence()))),
    )
    add(
        "attachment that is a flate bomb",
        page_pdf(
            [text],
            catalog_extra=b" /Names << /EmbeddedFiles << /Names [(bomb.txt) << /Type /Filespec "
            b"/F (bomb.txt) /EF << /F 4 0 R >> >>] >> >>",
            extra_objects=[
                b"<< /Type /EmbeddedFile /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream"
                % (len(bomb := _bomb_stream(100)), bomb)
            ],
        ),
    )
    add(
        "embedded font program of garbage",
        page_pdf(
            [text],
            extra_objects=[stream(c.rng.randbytes(3000))],
            resources_extra=b" /Font << /F2 << /Type /Font /Subtype /TrueType /BaseFont /X "
            b"/FontDescriptor << /FontFile2 4 0 R >> >> >>",
        ),
    )


def pdf_encrypted(c: _Corpus) -> None:
    kind = "pdf-encrypted"
    base = good_pdf(c.sentence())
    for note, user, algorithm, expect in (
        ("RC4-40 with a user password", "secret", "RC4-40", "fail"),
        ("RC4-128 with a user password", "secret", "RC4-128", "fail"),
        ("AES-256 with a user password", "secret", "AES-256", "fail"),
        ("RC4-128 with an owner password only", "", "RC4-128", "may"),
    ):
        try:
            data = _pypdf_variant(
                base, lambda w, u=user, a=algorithm: w.encrypt(u, owner_password="o", algorithm=a)
            )
        except Exception as exc:  # e.g. AES without the cryptography package
            c.not_made.append(f"{kind}: {note}: {exc}")
            continue
        c.add(c.name(kind, ".pdf"), data, kind, expect, note)
    c.add(
        c.name(kind, ".pdf"),
        base.replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt << /Filter /Nonsense /V 99 >>"),
        kind,
        "may",
        "an /Encrypt dictionary of nonsense",
    )


def pdf_not_pdf(c: _Corpus) -> None:
    kind = "pdf-not-a-pdf"
    samples: list[tuple[str, bytes]] = [
        ("header only", b"%PDF-1.7\n"),
        ("header then NULs", b"%PDF-1.4\n" + b"\x00" * 5000),
        ("header then random", b"%PDF-1.4\n" + c.random_bytes(4000)),
        ("HTML renamed", b"<html><body><p>" + c.sentence().encode() + b"</p></body></html>"),
        ("plain text renamed", c.sentence().encode()),
        ("zip", b"PK\x03\x04" + c.random_bytes(2000)),
        ("png", b"\x89PNG\r\n\x1a\n" + c.random_bytes(2000)),
        ("elf", b"\x7fELF\x02\x01\x01" + c.random_bytes(2000)),
        ("gzip of a pdf", b"\x1f\x8b" + zlib.compress(good_pdf(c.sentence()))),
        ("PostScript", b"%!PS-Adobe-3.0\n/Helvetica findfont 12 scalefont setfont\n"),
        ("only %%EOF", b"%%EOF\n" * 50),
    ]
    for index in range(12):
        samples.append((f"random {index}", c.random_bytes(c.rng.choice((10, 300, 5000, 60000)))))
    for note, data in samples:
        c.add(c.name(kind, ".pdf"), data, kind, "fail", note)


def pdf_malformed_objects(c: _Corpus) -> None:
    kind = "pdf-malformed-objects"
    text = text_ops(c.sentence())

    def add(note: str, data: bytes) -> None:
        c.add(c.name(kind, ".pdf"), data, kind, "may", note)

    good = good_pdf(c.sentence(), compress=False)
    add("MediaBox of NaN and 1e400", good.replace(b"[0 0 612 792]", b"[0 0 1e400 NaN]"))
    add("MediaBox empty", good.replace(b"[0 0 612 792]", b"[]"))
    add("negative length", good.replace(b"/Length", b"/Length -5 /L"))
    add("length past the end", re_length(good, b"99999999"))
    add("length zero", re_length(good, b"0"))
    add("endstream missing", good.replace(b"endstream", b""))
    add("stream keyword missing", good.replace(b"stream\n", b"\n", 1))
    add("unbalanced parentheses", page_pdf([b"BT /F1 12 Tf (" + b"((a)" * 2000 + b" Tj ET"]))
    add("odd hex string", page_pdf([text + b" BT <4a4b4> Tj <zz> Tj ET"]))
    add("names with NUL escapes", page_pdf([text], page_extra=b" /A#00B#zz /#00 /"))
    add("unknown operators", page_pdf([text + b" " + b"xyz " * 20_000]))
    add("100k unclosed q", page_pdf([b"q " * 100_000 + text]))
    add("100k Q without q", page_pdf([text + b" Q" * 100_000]))
    add(
        "absurd text matrix",
        page_pdf([b"BT 1e308 0 0 1e308 0 0 Tm /F1 1e308 Tf (x) Tj ET " + text]),
    )
    add("huge TJ array", page_pdf([b"BT /F1 12 Tf [" + b"(a) -100 " * 100_000 + b"] TJ ET"]))
    add("font missing", page_pdf([text.replace(b"/F1", b"/F9")]))
    add("font is an integer", good.replace(FONT, b"42"))
    add(
        "ToUnicode bfrange over 4 billion codes",
        page_pdf(
            [text],
            extra_objects=[
                stream(
                    b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap "
                    b"1 begincodespacerange <00000000> <FFFFFFFF> endcodespacerange "
                    b"1 beginbfrange <00000000> <FFFFFFFF> <0041> endbfrange endcmap"
                )
            ],
            resources_extra=b"",
        ).replace(FONT, FONT[:-2] + b"/ToUnicode 4 0 R >>"),
    )
    add(
        "ToUnicode with 200k entries",
        page_pdf(
            [text],
            extra_objects=[stream(b"beginbfchar " + b"<41> <0042> " * 200_000 + b"endbfchar")],
        ).replace(FONT, FONT[:-2] + b"/ToUnicode 4 0 R >>"),
    )
    add(
        "Differences of 100k glyphs",
        good.replace(
            b"/Encoding /WinAnsiEncoding",
            b"/Encoding << /Differences [0 " + b"/a " * 100_000 + b"] >>",
        ),
    )
    add("unknown filter", good.replace(b"/Length", b"/Filter /NoSuchDecode /Length"))
    add("1000 filters", good.replace(b"/Length", b"/Filter [" + b"/AHx " * 1000 + b"] /Length"))
    add("LZW of garbage", good.replace(b"/Length", b"/Filter /LZWDecode /Length"))
    add("ASCII85 of garbage", good.replace(b"/Length", b"/Filter /A85 /Length"))
    add("DCT image only", good.replace(b"/Length", b"/Filter /DCTDecode /Length"))
    add("Crypt filter without encryption", good.replace(b"/Length", b"/Filter /Crypt /Length"))
    add(
        "text in a 100 KB line",
        page_pdf([b"BT /F1 12 Tf (" + b"." * 100_000 + b") Tj ET " + text], compress=True),
    )


def re_length(pdf: bytes, value: bytes) -> bytes:
    start = pdf.index(b"/Length ") + len(b"/Length ")
    end = start
    while pdf[end : end + 1].isdigit():
        end += 1
    return pdf[:start] + value + pdf[end:]


# -- text formats ----------------------------------------------------------

TEXT_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".txt")


def _as_format(suffix: str, text: str) -> str:
    if suffix in (".html", ".htm"):
        return f"<html><head><title>Sample</title></head><body><p>{text}</p></body></html>\n"
    if suffix in (".md", ".markdown"):
        return f"# Sample\n\n{text}\n"
    return text + "\n"


# Each of these texts, so encoded, is not valid UTF-8 (checked as they are made).
_ENCODED = (
    ("latin-1", "Café crème: the fee is 5 € per month.".replace("€", "EUR")),
    ("cp1252", "“Smart quotes” and – dashes – cost £5."),
    ("big5", "存款保障計劃保障每名存款人的合資格存款。"),
    ("gbk", "存款保障计划保障每名存款人的合资格存款。"),
    ("shift_jis", "預金保険制度は預金者を保護します。"),
    ("euc-kr", "예금자 보호 제도는 예금자를 보호합니다."),
    ("utf-16", "UTF-16 with a byte-order mark."),
    ("utf-16-be", "UTF-16 big-endian, no mark: Ünïcödé."),
    ("utf-32", "UTF-32 with a byte-order mark."),
    ("cp437", "Box drawing ╔══╗ and ½ in an old DOS code page."),
    ("koi8-r", "Депозиты защищены."),
    ("mac-roman", "Mac Roman: café, naïve, ©."),
)

_BROKEN_UTF8 = (
    ("truncated multi-byte at the end", "中".encode()[:2]),
    ("lone continuation byte", b"\x80"),
    ("overlong slash", b"\xc0\xaf"),
    ("overlong NUL", b"\xc0\x80"),
    ("encoded surrogate", b"\xed\xa0\x80"),
    ("beyond U+10FFFF", b"\xf4\x90\x80\x80"),
    ("bytes F5 to FF", b"\xf5\xfe\xff"),
    ("five-byte sequence", b"\xf8\x88\x80\x80\x80"),
)


def text_encodings(c: _Corpus) -> None:
    kind = "text-bad-encoding"
    for codec, text in _ENCODED:
        for suffix in TEXT_SUFFIXES:
            data = _as_format(suffix, text).encode(codec)
            if codec == "utf-16" and not data.startswith(codecs.BOM_UTF16):
                data = codecs.BOM_UTF16 + data
            c.add(c.name(kind, suffix), data, kind, _invalid(data), codec, _utf8(data))
    for note, bad in _BROKEN_UTF8:
        for suffix in TEXT_SUFFIXES[::2]:
            data = _as_format(suffix, c.sentence()).encode() + bad
            c.add(c.name(kind, suffix), data, kind, _invalid(data), note, _utf8(data))
    mixed = "mixed-encoding"
    for suffix in TEXT_SUFFIXES:
        data = _as_format(
            suffix, c.sentence()
        ).encode() + "Second paragraph in cp1252: “quoted”.\n".encode("cp1252")
        c.add(c.name(mixed, suffix), data, mixed, _invalid(data), "UTF-8 then cp1252")
        data = "UTF-8 中文 first, ".encode() + "then Big5 中文.".encode("big5")
        c.add(c.name(mixed, suffix), data, mixed, _invalid(data), "UTF-8 then Big5")
    html = b'<html><head><meta charset="big5"></head><body><p>%s</p></body></html>' % (
        "存款保障".encode("big5")
    )
    c.add(c.name(mixed, ".html"), html, mixed, _invalid(html), "declared big5")


def _utf8(data: bytes) -> str:
    return "not valid UTF-8" if _invalid(data) == "fail" else ""


def _invalid(data: bytes) -> Expect:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "fail"
    return "may"


def text_nul(c: _Corpus) -> None:
    kind = "text-nul-bytes"
    for suffix in TEXT_SUFFIXES:
        sentence = c.sentence()
        samples = {
            "UTF-16LE without a mark": _as_format(suffix, sentence).encode("utf-16-le"),
            "one NUL in the middle": _as_format(suffix, sentence)
            .encode()
            .replace(b" ", b"\x00", 1),
            "NUL at the end": _as_format(suffix, sentence).encode() + b"\x00",
            "NULs only": b"\x00" * 4096,
        }
        for note, data in samples.items():
            c.add(c.name(kind, suffix), data, kind, "fail", note, "NUL bytes")


def text_binary(c: _Corpus) -> None:
    kind = "wrong-extension"
    blobs = {
        "a PDF": good_pdf(c.sentence()),
        "a PNG": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + c.random_bytes(800),
        "a JPEG": b"\xff\xd8\xff\xe0\x00\x10JFIF" + c.random_bytes(800),
        "a zip": b"PK\x03\x04\x14\x00" + c.random_bytes(800),
        "a gzip": b"\x1f\x8b\x08\x00" + zlib.compress(c.sentence().encode()),
        "an ELF binary": b"\x7fELF\x02\x01\x01\x00" + c.random_bytes(800),
        "random bytes": c.random_bytes(3000),
    }
    for note, data in blobs.items():
        for suffix in TEXT_SUFFIXES:
            c.add(c.name(kind, suffix), data, kind, _invalid(data), note)
    # Sound text under another format's extension: legitimately indexable.
    c.add(
        c.name(kind, ".html"), f"# Markdown\n\n{c.sentence()}\n".encode(), kind, "may", "md as html"
    )
    c.add(
        c.name(kind, ".md"), _as_format(".html", c.sentence()).encode(), kind, "may", "html as md"
    )
    c.add(c.name(kind, ".txt"), b'{"json": "%s"}' % c.sentence().encode(), kind, "may", "json")


def text_empty(c: _Corpus) -> None:
    kind = "empty-or-blank"
    blanks = {
        "0 bytes": b"",
        "spaces and newlines": b"  \n\t\n \r\n",
        "byte-order mark only": codecs.BOM_UTF8,
        "no-break spaces": "\u00a0\u3000\u00a0\n".encode(),
        "zero-width spaces": "\u200b\u200b\u2060\n".encode(),
        "punctuation only": b"... --- *** ??? !!!\n",
    }
    for note, data in blanks.items():
        for suffix in (*TEXT_SUFFIXES, ".pdf"):
            c.add(c.name(kind, suffix), data, kind, "fail", note)
    c.add(
        c.name(kind, ".md"),
        b"# Heading\n\n## Another\n\n### Third\n",
        kind,
        "fail",
        "headings only",
    )
    c.add(c.name(kind, ".md"), b"![](a.png)\n<!-- comment -->\n", kind, "fail", "image and comment")
    c.add(
        c.name(kind, ".html"),
        b"<html><head><style>p{}</style><script>var a = 'text';</script></head><body>"
        b"<!-- only a comment --></body></html>",
        kind,
        "fail",
        "script, style and comment only",
    )


def text_huge_lines(c: _Corpus) -> None:
    kind = "huge-single-line"
    size = min(1_500_000, c.limit - 4096)
    sentence = c.sentence()
    lines = {
        ".txt": [
            ("spaces around a sentence", " " * size + sentence + " " * 100),
            # Letters chunk and embed (a long word: many one-token chunks), so this
            # one stays short; the other huge lines carry one sentence at most.
            ("one word of 20 KB", "x" * 20_000),
            ("punctuation", "-." * 50_000),  # kept as text: chunked in the parent
        ],
        ".md": [
            ("link with a 1.5 MB URL", f"[{sentence}](http://x/{'a' * size})"),
            ("1.5 MB heading line", "# " + " " * size + "x"),
            ("100 KB of emphasis marks", "_" * 100_000 + " " + sentence),
        ],
        ".html": [
            ("1.5 MB attribute", f'<p title="{"A" * size}">{sentence}</p>'),
            ("1.5 MB comment", f"<p>{sentence}</p><!-- {'-' * size} -->"),
            ("1.5 MB script", f"<p>{sentence}</p><script>{'x=1;' * (size // 4)}</script>"),
            ("1.5 MB title", f"<title>{'T' * size}</title><p>{sentence}</p>"),
        ],
    }
    for suffix, samples in lines.items():
        for note, text in samples:
            c.add(c.name(kind, suffix), text.encode(), kind, "may", note)


def near_limit(c: _Corpus) -> None:
    kind = "size-limit"
    sentence = f"{c.sentence()}\n".encode()

    def padded(size: int) -> bytes:
        return sentence + b" " * (size - len(sentence) - 1) + b"\n"

    c.add(c.name(kind, ".txt"), padded(c.limit), kind, "index", "exactly at the limit")
    c.add(c.name(kind, ".md"), padded(c.limit - 1), kind, "index", "one byte under")
    over = "MB limit"
    c.add(c.name(kind, ".txt"), padded(c.limit + 1), kind, "fail", "one byte over", over)
    c.add(c.name(kind, ".html"), padded(c.limit + 4096), kind, "fail", "4 KB over", over)
    pdf = good_pdf(c.sentence())
    pad = c.limit - len(pdf) - 200
    padded_pdf = page_pdf(
        [text_ops(c.sentence())], extra_objects=[stream(b"%" * pad)], compress=True
    )
    c.add(c.name(kind, ".pdf"), padded_pdf, kind, "may", f"{len(padded_pdf)} bytes")

    def sparse(path: Path) -> None:
        with path.open("wb") as handle:
            handle.truncate(c.limit * 64)

    c.special(c.name(kind, ".md"), sparse, kind, "fail", "MB limit")
    c.special(c.name(kind, ".pdf"), sparse, kind, "fail", "MB limit")


def markdown_pathological(c: _Corpus) -> None:
    """Inputs that make naive regular expressions backtrack quadratically,
    and structure at absurd depth. Filled with punctuation, so what survives
    has no words to index but the one sentence."""
    kind = "markdown-pathological"
    # Large enough that a pattern rescanning per opener would take seconds;
    # what survives is chunked by the parent, so no larger (the unit tests
    # time 60k openers of each against the loaders alone).
    n = 8_000
    sentence = c.sentence()
    samples = {
        "unclosed strong": "**- " * n,
        "unclosed links": "[- " * n,
        "links without a closing parenthesis": "[-](- " * n,
        "images without a closing parenthesis": "![-](- " * n,
        "unclosed comments": "<!-- " * n,
        "unclosed code spans": "`- " * n,
        "heading with trailing spaces": "# " + "- " * n + " \t" * n + "x",
        "heading of hashes": "# " + "# " * n,
        "front matter never closed": "---\n" + "- : -\n" * n,
        "fence never closed": "```\n" + "-\n" * n,
        "setext underlines": "-\n===\n" * (n // 4),
        "quotes 20k deep": "> " * 20_000 + sentence,
        "list 5k deep": "".join("  " * i + "- -\n" for i in range(5000)),
        "table of 20k columns": "|" + "-|" * 20_000 + "\n",
        "html blocks": "<div>" * 400,  # letters: kept short, they would be indexed
        "emphasis maze": "*_" * n,
    }
    for index, (note, text) in enumerate(samples.items()):
        words = sentence if index % 3 == 0 else MUTE
        body = f"{words}\n\n{text}\n" if "deep" not in note else text.replace(sentence, words)
        suffix = ".markdown" if len(c.files) % 2 else ".md"
        c.add(c.name(kind, suffix), body.encode(), kind, "may", note)


def html_pathological(c: _Corpus) -> None:
    kind = "html-pathological"
    n = 100_000  # where the markup is dropped
    kept = 10_000  # where it ends up as text, which the parent chunks
    sentence = c.sentence()
    samples = {
        "divs 100k deep": "<div>" * n + sentence + "</div>" * n,
        "unclosed inline tags": "<b><i>" * n + sentence,
        "tables 20k deep": "<table><tr><td>" * 20_000 + sentence,
        "headings nested": "<h1><h2><h3>" * 20_000 + sentence,
        "entities": f"<p>{sentence}</p><p>" + "&amp;" * kept + "</p>",
        "numeric entities out of range": f"<p>{sentence}" + "&#99999999999;&#0;&#xD800;" * 5000,
        "entity-encoded script": f"<p>{sentence}</p>&lt;script&gt;alert(1)&lt;/script&gt;",
        "billion laughs doctype": '<!DOCTYPE html [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY a{i} "&a{i - 1};&a{i - 1};&a{i - 1};">' for i in range(1, 10))
        + f"]><html><body><p>{sentence} &a9;</p></body></html>",
        "unclosed comment": f"<p>{sentence}</p><!--" + "-" * kept,
        "unclosed script": f"<p>{sentence}</p><script>" + "x" * n,
        "unclosed cdata": f"<p>{sentence}</p><![CDATA[" + "x" * kept,
        # Inside a title that never closes, so the 100k "<a" end up in the
        # title, not in 200 KB of chunks to embed.
        "many incomplete tags": f"<p>{sentence}</p><title>" + "<a" * n,
        "many incomplete tags with attributes": f"<p>{sentence}</p><title>" + "<a b" * n,
        "many end-tag starts": f"<p>{sentence}</p>" + "</" * kept,
        "many declarations": f"<p>{sentence}</p>" + "<!" * kept,
        "many processing instructions": f"<p>{sentence}</p>" + "<?" * kept,
        "tag with 50k attributes": "<p "
        + " ".join(f"a{i}=x" for i in range(50_000))
        + f">{sentence}",
        "attributes never quoted closed": f'<p>{sentence}</p><a href="' + "x" * kept,
        "nested svg and script": f"<p>{sentence}</p>" + "<svg><script>" * 10_000,
        "title never closed": f"<title>{sentence}" + "<p>x" * 10_000,
        "control characters": f"<p>{sentence}\x1b[31m\x07\x08\x0b</p>",
    }
    for index, (note, text) in enumerate(samples.items()):
        if index % 3:
            text = text.replace(sentence, MUTE)
        suffix = ".htm" if len(c.files) % 2 else ".html"
        c.add(c.name(kind, suffix), text.encode(), kind, "may", note)


_SOUP = (
    *("<", ">", "</", "/>", "<!--", "-->", "--!>", "<![CDATA[", "]]>", "<![", "<?", "<!"),
    *("<!DOCTYPE x [", "<!ENTITY a 'b'>", "<a href='", "<p ", "<b>", "</b>", "<h1>", "</h2>"),
    *("<script>", "</script>", "<style>", "<title>", "<table><tr><td>", "<svg>", "'", '"'),
    *("=", "&", "&#", "&#x", "&amp", ";", "&#0;", "&#x110000;", "\n", "\n\n", "\r", "# "),
    *("## ", "###### ", "**", "__", "*", "_", "`", "```", "~~~", "[", "]", "(", ")", "!["),
    *("](", "> ", "- ", "1. ", "---", "===", "|", "\\", " ", "\t", "\u00a0", "\u200b"),
    *("\u202e", "\ufeff", "\x1b[2J", "é", "中", "😀", "x"),
)


def markup_soup(c: _Corpus) -> None:
    """Random runs of markup fragments (unbalanced tags, comments, entities,
    emphasis, links): the Markdown and HTML loaders must take any of them."""
    for suffix, kind in ((".html", "html-token-soup"), (".md", "markdown-token-soup")):
        for _ in range(8):
            tokens = c.rng.choices(_SOUP, k=c.rng.randrange(20, 80))
            text = f"{c.sentence()} " + "".join(tokens)
            c.add(c.name(kind, suffix), text.encode(), kind, "may")


# -- names, links and special files ----------------------------------------


def odd_names(c: _Corpus) -> None:
    kind = "odd-name"
    good = lambda: f"# Named\n\n{c.sentence()}\n".encode()  # noqa: E731
    names: list[tuple[str | bytes, Expect, str]] = [
        ("names/存款保障 with spaces.md", "index", "unicode and spaces"),
        ("names/emoji-😀-report.md", "index", "emoji"),
        ("names/-rf.md", "index", "leading dash"),
        ("names/--help.txt", "index", "looks like an option"),
        ("names/'quotes' and \"double\".txt", "index", "quotes"),
        ("names/$(touch pwned).md", "index", "shell substitution"),
        ("names/`backtick`;semi&amp.md", "index", "shell metacharacters"),
        ("names/percent%s%n%x.txt", "index", "format specifiers"),
        ("names/nfc-caf\u00e9.md", "index", "NFC é"),
        ("names/nfd-cafe\u0301.md", "index", "NFD é"),
        ("names/rtl-\u202egnp.md", "may", "right-to-left override"),
        ("names/UPPER.MD", "index", "upper-case extension"),
        ("names/" + "a" * 252 + ".md", "index", "255-byte name"),
        ("names/" + "中" * 84 + ".md", "index", "255-byte name in CJK"),
        ("names/" + "b" * 253 + ".md", "skip", "256-byte name"),
        ("names/" + "/".join(["d" * 200] * 15) + "/deep.md", "index", "3 KB path"),
        ("names/line\nbreak.md", "fail", "newline"),
        ("names/carriage\rreturn.txt", "fail", "carriage return"),
        ("names/tab\there.md", "fail", "tab"),
        ("names/esc\x1b[31mred.html", "fail", "terminal escape"),
        ("names/bell\x07.txt", "fail", "bell"),
        (b"names/latin1-caf\xe9.md", "fail", "Latin-1 byte"),
        (b"names/\xff\xfe.txt", "fail", "invalid bytes"),
        (b"names/overlong-\xc0\xaf.md", "fail", "overlong"),
        (b"names/dir-\xff/inside.md", "fail", "invalid folder name"),
        ("names/dir\nnewline/inside.md", "fail", "newline in folder name"),
        ("names/trailing-space.md ", "skip", "trailing space"),
        ("names/trailing-dot.md.", "skip", "trailing dot"),
        ("names/no-extension", "skip", "no extension"),
        ("names/double.md.bak", "skip", "backup extension"),
        ("names/x.md/inside.txt", "index", "folder named like a file"),
    ]
    for name, expect, note in names:
        reason = "the file name" if expect == "fail" else ""
        c.add(name, good(), kind, expect, note, reason)  # the 256-byte one lands in not_made


def links(c: _Corpus) -> None:
    kind = "symlink"
    c.outside.mkdir(parents=True, exist_ok=True)
    secret = c.outside / "secret.md"
    secret.write_text(f"# Outside\n\nThe outside code is {OUTSIDE_CANARY}.\n", encoding="utf-8")
    (c.outside / "folder").mkdir(exist_ok=True)
    (c.outside / "folder" / "also-secret.md").write_text(f"# X\n\n{OUTSIDE_CANARY}\n", "utf-8")
    c.add("links/target.md", f"# Target\n\n{c.sentence()}\n".encode(), kind, "index", "a target")
    out, lost, loop = "links outside the corpus folder", "does not exist", "loop"
    c.link("links/inside.md", "target.md", kind, "index")
    c.link("links/inside-abs.md", str(c.folder.resolve() / "links/target.md"), kind, "index")
    c.link("links/inside-via-dots.md", "../links/./target.md", kind, "index")
    c.link("links/out-abs.md", str(secret.resolve()), kind, "fail", out)
    c.link("links/out-rel.md", secret, kind, "fail", out)
    c.link("links/out-hop.md", "out-rel.md", kind, "fail", out)
    dots = "../links/" + os.path.relpath(secret, c.folder / "links")
    c.link("links/out-via-dots.md", dots, kind, "fail", out)
    c.link("links/out-into-folder.md", c.outside / "folder" / "also-secret.md", kind, "fail", out)
    c.link("links/etc-passwd.txt", "/etc/passwd", kind, "fail")  # out, or lost where absent
    c.link("links/dev-zero.txt", "/dev/zero", kind, "fail", out)
    c.link("links/proc-environ.txt", "/proc/self/environ", kind, "fail", out)
    c.link("links/dangling.md", "no-such-file.md", kind, "fail", lost)
    c.link("links/dangling-out.pdf", "/no/such/file.pdf", kind, "fail", lost)
    c.link("links/self-loop.md", "self-loop.md", kind, "fail", loop)
    c.link("links/loop-a.html", "loop-b.html", kind, "fail", loop)
    c.link("links/loop-b.html", "loop-a.html", kind, "fail", loop)
    c.link("links/folder-out", c.outside / "folder", kind, "skip")
    c.link("links/folder-root", "..", kind, "skip")  # a loop, were it followed
    c.link("links/folder-named.md", c.outside / "folder", kind, "skip")
    c.link("links/out-unsupported.docx", str(secret.resolve()), kind, "skip")


def special_files(c: _Corpus) -> None:
    kind = "special-file"
    regular = "not a regular file"
    c.special("special/pipe.txt", lambda p: os.mkfifo(p), kind, "fail", regular)
    c.special("special/pipe.bin", lambda p: os.mkfifo(p), kind, "skip")
    c.link("special/to-pipe.md", "pipe.txt", kind, "fail", regular)
    c.link("special/to-dev-null.md", "/dev/null", kind, "fail", "links outside the corpus folder")


BUILDERS: tuple[Callable[[_Corpus], None], ...] = (
    pdf_truncated,
    pdf_bitflip,
    pdf_xref,
    pdf_loops,
    pdf_deep,
    pdf_bombs,
    pdf_many_pages,
    pdf_active,
    pdf_encrypted,
    pdf_not_pdf,
    pdf_malformed_objects,
    text_encodings,
    text_nul,
    text_binary,
    text_empty,
    text_huge_lines,
    near_limit,
    markdown_pathological,
    html_pathological,
    markup_soup,
    odd_names,
    links,
    special_files,
)


def generate(
    folder: Path, *, seed: int = 0, max_file_mb: float = 2.0, outside: Path | None = None
) -> FuzzCorpus:
    """Write the hostile corpus into ``folder`` (created; should be empty) and
    its link targets into ``outside`` (default: a sibling ``<folder>-outside``).
    ``max_file_mb`` is the ingestion size limit the near-limit files are cut
    around. Deterministic for a given seed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    outside = Path(outside) if outside else folder.with_name(folder.name + "-outside")
    corpus = _Corpus(folder, outside, random.Random(seed), max_file_mb)
    for build in BUILDERS:
        build(corpus)
    return FuzzCorpus(folder, outside, tuple(corpus.files), tuple(corpus.not_made))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="folder to write the corpus into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-file-mb", type=float, default=2.0)
    args = parser.parse_args(argv)
    corpus = generate(args.outdir, seed=args.seed, max_file_mb=args.max_file_mb)
    print(f"{len(corpus.files)} files in {corpus.folder} (links point into {corpus.outside})")
    for kind, count in counts_by_kind(corpus.files).items():
        print(f"{count:5d}  {count / len(corpus.files):6.1%}  {kind}")
    print("by expectation:", counts_by_expect(corpus.files))
    for line in corpus.not_made:
        print(f"not made: {line}")


if __name__ == "__main__":
    main()
