"""Read an image file (.png, .jpg, .tif) by OCR, one block per frame.

Pillow opens the file and the frame count and size are checked before any
pixel is decoded (a small file can declare a gigapixel image); each frame is
then rendered on its own as a grey PNG and read by ``ingest.ocr``.
"""

from __future__ import annotations

import hashlib
import io

from chatbot.errors import IngestionError, error_detail
from ingest.blocks import Block, Loaded
from ingest.ocr import OcrOptions, ocr_pages

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
MAX_IMAGE_PIXELS = 120_000_000  # about a 1 m x 1 m page at 300 dpi; bigger is a bomb


def load_image(data: bytes, source: str, ocr: OcrOptions, file_hash: str | None = None) -> Loaded:
    """("", blocks, frame count) of an image; ``file_hash`` (the sha256 of
    ``data``, worked out here when not given) keys the OCR cache."""
    frames = ImagePages(data, source, ocr.max_pages)
    try:
        digest = file_hash or hashlib.sha256(data).hexdigest()
        pages = list(range(frames.count))
        read = ocr_pages(source, digest, pages, frames.render, ocr, "the file is an image")
    finally:
        frames.close()
    blocks = tuple(
        Block(
            text=page.text,
            page=index + 1,
            ocr_confidence=page.confidence,
            ocr_low=page.confidence < ocr.min_confidence,
        )
        for index, page in sorted(read.items())
        if page.text
    )
    if not blocks:
        raise IngestionError(
            source, "OCR found no text in the image", "check the scan is of text and legible"
        )
    return "", blocks, frames.count


class ImagePages:
    """An image file's frames (TIFFs may hold many pages), checked for size
    before anything is decoded and rendered one at a time as grey PNGs."""

    def __init__(self, data: bytes, source: str, max_pages: int) -> None:
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
        self._source = source
        try:
            self._image = Image.open(io.BytesIO(data))
            width, height = self._image.size
            self.count = int(getattr(self._image, "n_frames", 1))
        except Image.DecompressionBombError as exc:
            raise IngestionError(
                source,
                f"the image is too large to read safely ({exc})",
                "scale it down (300 dpi is enough for OCR) or split it",
            ) from exc
        except MemoryError:
            raise
        except Exception as exc:
            raise self._damaged(exc) from exc
        if width * height > MAX_IMAGE_PIXELS or max(width, height) > 30_000:
            raise IngestionError(
                source,
                f"the image is {width} x {height} pixels, too large to read safely",
                "scale it down (300 dpi is enough for OCR) or split it",
            )
        if self.count > max_pages:
            raise IngestionError(
                source,
                f"the image holds {self.count} pages, over the limit of {max_pages} "
                "to OCR per file",
                "split the file, or raise CHATBOT_INGEST__OCR_MAX_PAGES",
            )

    def _damaged(self, exc: BaseException) -> IngestionError:
        return IngestionError(
            self._source,
            f"the image is damaged or not an image ({error_detail(exc, 120)})",
            "re-export or re-scan it and check it opens in an image viewer",
        )

    def render(self, index: int) -> bytes:
        try:
            self._image.seek(index)
            buffer = io.BytesIO()
            self._image.convert("L").save(buffer, format="PNG")
            return buffer.getvalue()
        except MemoryError:
            raise
        except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ...
            raise self._damaged(exc) from exc

    def close(self) -> None:
        self._image.close()


__all__ = ["IMAGE_SUFFIXES", "MAX_IMAGE_PIXELS", "ImagePages", "load_image"]
