"""Hostile images and scans for OCR: broken headers, truncations, lies about
their size, and scanned PDFs."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from tests.fuzz.corpus import MUTE, CorpusWriter
from tests.fuzz.office import good_office
from tests.fuzz.pdf import FONT, build_pdf, good_pdf, stream, text_ops

# -- images and scans (OCR) -------------------------------------------------
#
# Tesseract takes a fraction of a second on a small image, a second or more
# on a page, so only a handful of these reach it: most are broken headers,
# truncations and lies about their size, refused before any OCR.

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def _picture(size: tuple[int, int], text: str = "", mode: str = "L") -> Any:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new(mode, size, 255 if mode != "1" else 1)
    if text:
        ImageDraw.Draw(image).text((10, 8), text, font=ImageFont.load_default(size=26), fill=0)
    return image


def _saved(image: Any, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, pixels: bytes = b"") -> bytes:
    """A grey PNG whose header says ``width`` x ``height``; its data is
    ``pixels`` (already filtered rows), deflated."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = _png_chunk(b"IDAT", zlib.compress(pixels or b"\0" * 64, 9))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + idat + _png_chunk(b"IEND", b"")


def _tiff_declaring(width: int, height: int) -> bytes:
    """A little-endian TIFF whose one IFD says ``width`` x ``height``, 8-bit grey."""
    tags = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8 + 2 + 12 * 8 + 4),  # the strip: right after the IFD
        (277, 3, 1, 1),
        (279, 4, 1, 64),
    ]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", *t) for t in tags)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + bytes(64)


def _jpeg_declaring(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its frame header saying ``width`` x ``height``."""
    at = jpeg.index(b"\xff\xc0") + 5  # SOF0: marker, length, precision, then height, width
    return jpeg[:at] + struct.pack(">HH", height, width) + jpeg[at + 4 :]


def images(c: CorpusWriter) -> None:
    kind = "image-broken"
    blank = _picture((240, 48))
    bases = {
        ".png": _saved(blank, "PNG"),
        ".jpg": _saved(blank, "JPEG", quality=80),
        ".tif": _saved(blank, "TIFF", compression="tiff_deflate"),
    }
    for suffix, base in bases.items():
        # Cut inside the pixel data or before it: never a whole image, no OCR.
        end = base.index(b"IEND") - 8 if suffix == ".png" else len(base) - 64
        for index in range(6):
            cut = c.rng.randrange(1, end)
            name_suffix = (suffix, {".jpg": ".jpeg", ".tif": ".tiff"}.get(suffix, suffix))[
                index % 2
            ]
            c.add(c.name(kind, name_suffix), base[:cut], kind, "fail", f"cut at {cut}")
    png = bases[".png"]
    for _ in range(4):  # in the header, which carries a checksum
        flipped = bytearray(png)
        flipped[c.rng.randrange(16, 29)] ^= 1 << c.rng.randrange(8)
        c.add(
            c.name(kind, ".png"), bytes(flipped), kind, "fail", "a bit of IHDR flipped", "damaged"
        )
    not_image = "not an image"
    for suffix, (note, data) in zip(
        IMAGE_SUFFIXES,
        (
            ("text", c.sentence().encode()),
            ("a PDF", good_pdf(MUTE)),
            ("HTML", b"<html><body><img src=x onerror=alert(1)></body></html>"),
            ("a docx", good_office(".docx", MUTE)),
            ("random bytes", c.random_bytes(4000)),
        ),
        strict=True,
    ):
        c.add(c.name(kind, suffix), data, kind, "fail", note, not_image)
        c.add(c.name(kind, suffix), b"", kind, "fail", "0 bytes", "empty")
    big = "too large"
    c.add(
        c.name(kind, ".png"), png_declaring(100_000, 100_000), kind, "fail", "100000 x 100000", big
    )
    jpeg = _jpeg_declaring(bases[".jpg"], 65_000, 65_000)
    c.add(c.name(kind, ".jpg"), jpeg, kind, "fail", "65000 x 65000", big)
    tiff = _tiff_declaring(100_000, 100_000)
    c.add(c.name(kind, ".tif"), tiff, kind, "fail", "100000 x 100000", big)
    c.add(c.name(kind, ".png"), png_declaring(0, 0), kind, "fail", "0 x 0")
    c.add(c.name(kind, ".png"), png_declaring(2**31 - 1, 1), kind, "fail", "2**31 - 1 wide")
    # Over the pixel limit, under twice it, where Pillow only warns: 121 MB of grey.
    side = 11_000
    rows = (b"\0" + b"\xff" * side) * side
    c.add(c.name(kind, ".png"), png_declaring(side, side, rows), kind, "fail", f"{side} x {side}")
    del rows
    text_chunk = _png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b" " * (64 << 20), 9))
    bomb = png[:33] + text_chunk + png[33:]
    c.add(c.name(kind, ".png"), bomb, kind, "fail", "a zTXt chunk of 64 MB")
    # Many frames: refused by the OCR page limit the fuzz test sets (3).
    frames = [_picture((8, 8)) for _ in range(400)]
    many = _saved(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    c.add(c.name(kind, ".tiff"), many, kind, "fail", "400 frames", "over the limit")
    pages = [_picture((2000, 2000), mode="1") for _ in range(40)]
    large = _saved(pages[0], "TIFF", save_all=True, append_images=pages[1:], compression="group4")
    c.add(c.name(kind, ".tif"), large, kind, "fail", "40 frames of 2000 x 2000")
    # The only images here that reach Tesseract: small, one or two frames.
    strip = _saved(_picture((40_000, 2)), "PNG")
    c.add(c.name(kind, ".png"), strip, kind, "fail", "40000 x 2: wider than Tesseract takes")
    c.add(c.name(kind, ".png"), _saved(_picture((1, 1)), "PNG"), kind, "fail", "1 x 1", "no text")
    c.add(c.name(kind, ".jpg"), bases[".jpg"], kind, "fail", "blank", "no text")
    gif = _saved(_picture((64, 64)), "GIF")
    c.add(c.name(kind, ".png"), gif, kind, "fail", "a blank GIF named .png", "no text")
    sentence = c.sentence()
    text = _saved(_picture((900, 48), sentence), "PNG")
    c.add(c.name(kind, ".png"), text, kind, "may", "a line of text")
    two = [_picture((900, 48)), _picture((900, 48), sentence)]
    tiff = _saved(two[0], "TIFF", save_all=True, append_images=two[1:])
    c.add(c.name(kind, ".tiff"), tiff, kind, "may", "two frames, text on the second")


def image_pdf(pages: int, *, text_first: str = "", box: tuple[int, int] = (216, 36)) -> bytes:
    """``pages`` pages showing the same image of a line of text and no text
    layer (a scan); page 1 has real text instead when ``text_first`` is set."""
    picture = _picture((900, 150), "The scanned page says the fuzz vault is shut.")
    pixels = zlib.compress(picture.tobytes(), 9)
    image = b"<< /Type /XObject /Subtype /Image /Width 900 /Height 150 /ColorSpace /DeviceGray "
    image += b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (
        len(pixels),
        pixels,
    )
    width, height = box
    shows = b"q %d 0 0 %d 0 0 cm /Im1 Do Q" % box
    kids = b" ".join(b"%d 0 R" % (5 + 2 * i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        FONT,
        image,
    ]
    for index in range(pages):  # objects 5, 7, ...: the pages; 6, 8, ...: their contents
        content = text_ops(text_first, y=height // 2) if index == 0 and text_first else shows
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R"
            b" >> /XObject << /Im1 4 0 R >> >> /Contents %d 0 R >>" % (width, height, 6 + 2 * index)
        )
        objects.append(stream(content))
    return build_pdf(objects)


def pdf_scanned(c: CorpusWriter) -> None:
    kind = "pdf-scanned"
    limit = "over the limit"
    c.add(c.name(kind, ".pdf"), image_pdf(1), kind, "may", "one small image-only page")
    c.add(c.name(kind, ".pdf"), image_pdf(10), kind, "fail", "10 image-only pages", limit)
    mixed = image_pdf(7, text_first=c.sentence())
    c.add(c.name(kind, ".pdf"), mixed, kind, "may", "a text page, then 6 image-only pages")
    huge = image_pdf(1, box=(14_400, 14_400))
    c.add(c.name(kind, ".pdf"), huge, kind, "fail", "an image-only page of 200 x 200 inches")
    broken = image_pdf(1).replace(b"/FlateDecode", b"/DCTDecode", 1)
    c.add(c.name(kind, ".pdf"), broken, kind, "fail", "an image-only page, its image broken")
