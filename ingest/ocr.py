"""Optical character recognition for scanned pages, with Tesseract.

Used for PDF pages without a text layer (a scan, or a mixed PDF's scanned
pages, page by page: ``ingest.pdf``) and for image files (``ingest.images``).
Each page is rendered by its loader to a grey image at ``dpi`` and read by the
``tesseract`` program in TSV form, which gives every word with its
confidence (0-100). The page's text keeps Tesseract's lines and paragraphs;
words are joined with spaces except between two CJK characters, which
Tesseract reports as separate words. The page's confidence is the mean over
its words, weighted by their length.

OCR is slow (seconds a page on a CPU), so:

- results are cached on disk by (file hash, page, settings, Tesseract
  version): a file re-read because its identity rules changed, or a file
  put back unchanged, is never OCR'd twice;
- each page read by Tesseract (not one served from the cache) reports
  progress (``set_progress``): the parsing worker passes it to the ingesting
  process, which logs it and gives the file another parse timeout per page,
  so a long scan is not mistaken for a hang;
- a file with more than ``max_pages`` pages to OCR is refused with the
  reason, not read for an hour.

Tesseract runs with one thread (``OMP_THREAD_LIMIT=1``): on the small
machines this project targets its OpenMP threads only compete with each
other and with the embedder.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from chatbot.errors import IngestionError, error_detail
from chatbot.text import normalise_whitespace

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install Tesseract with English and Traditional Chinese data (`make ocr`, or "
    "`apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-tra`), or "
    "run OCR yourself first (e.g. `ocrmypdf in.pdf out.pdf`) and ingest the result"
)

DAMAGED_HINT = (
    "the page may be damaged or far too large: re-scan or re-export it (300 dpi is enough "
    "for OCR) and check that it opens in a viewer"
)

Progress = Callable[[str, int, int], None]
"""``progress(source, pages_done, pages_total)``."""

_progress: Progress | None = None


def set_progress(callback: Progress | None) -> None:
    """Where OCR reports each page done (the parsing worker sets this)."""
    global _progress
    _progress = callback


@dataclass(frozen=True, slots=True)
class OcrOptions:
    languages: str = "chi_tra+eng"  # Tesseract language codes, "+"-joined, main one first
    dpi: int = 300
    min_confidence: float = 60.0  # pages below are indexed but marked low-confidence
    max_pages: int = 200  # pages to OCR per file; more is refused
    page_timeout_s: float = 120.0
    cache_dir: str = ""  # "" = no cache
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class OcrPage:
    text: str
    confidence: float  # 0-100; 0.0 when no word was found


@functools.lru_cache(maxsize=1)
def tesseract_version() -> str | None:
    """The installed Tesseract's version line, None when there is none."""
    program = shutil.which("tesseract")
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (done.stdout or done.stderr).splitlines()
    return first[0].strip() if first else "tesseract"


@functools.lru_cache(maxsize=4)
def missing_languages(languages: str) -> tuple[str, ...]:
    """The requested language codes Tesseract has no data for."""
    program = shutil.which("tesseract")
    if program is None:
        return tuple(languages.split("+"))
    done = subprocess.run(
        [program, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
    )
    have = {line.strip() for line in (done.stdout + done.stderr).splitlines()}
    return tuple(code for code in languages.split("+") if code not in have)


def require_tesseract(source: str, options: OcrOptions, what: str) -> None:
    """IngestionError unless OCR is enabled and Tesseract has the languages."""
    if not options.enabled:
        raise IngestionError(
            source,
            f"{what} and OCR is turned off (CHATBOT_INGEST__OCR=false)",
            "turn OCR on, or run OCR yourself first (e.g. `ocrmypdf in.pdf out.pdf`)",
        )
    if tesseract_version() is None:
        raise IngestionError(source, f"{what} and Tesseract OCR is not installed", INSTALL_HINT)
    missing = missing_languages(options.languages)
    if missing:
        raise IngestionError(
            source,
            f"{what} and Tesseract has no data for {', '.join(missing)}",
            f"install it (e.g. `apt-get install tesseract-ocr-{missing[0].replace('_', '-')}`) "
            "or change CHATBOT_INGEST__OCR_LANGUAGES",
        )


# -- reading one image -------------------------------------------------------


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x3000 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF


def _joins(left: str, right: str) -> bool:
    """No space between two words: CJK meets CJK, or CJK meets punctuation
    (Tesseract reports every Chinese character and comma as a word)."""
    if _is_cjk(left) or _is_cjk(right):
        return (_is_cjk(left) or not left.isalnum()) and (_is_cjk(right) or not right.isalnum())
    return False


def _join_words(words: Iterable[str]) -> str:
    out = ""
    for word in words:
        if out and not _joins(out[-1], word[0]):
            out += " "
        out += word
    return out


def parse_tsv(tsv: str) -> OcrPage:
    """Tesseract's TSV output as text (lines and paragraphs kept) and confidence."""
    lines: dict[tuple[str, str, str], list[str]] = {}
    weighted = 0.0
    letters = 0
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        word = cols[11].strip()
        try:
            conf = float(cols[10])
        except ValueError:
            continue
        if not word or conf < 0:
            continue
        lines.setdefault((cols[2], cols[3], cols[4]), []).append(word)
        weighted += conf * len(word)
        letters += len(word)
    paragraphs: list[str] = []
    previous: tuple[str, str] | None = None
    for (block, par, _line), words in lines.items():
        joined = _join_words(words)
        if (block, par) == previous:
            paragraphs[-1] += "\n" + joined
        else:
            paragraphs.append(joined)
        previous = (block, par)
    text = normalise_whitespace("\n\n".join(paragraphs))
    return OcrPage(text=text, confidence=round(weighted / letters, 1) if letters else 0.0)


def _die_with_parent() -> None:
    """In the Tesseract child, before exec: be killed with the process that
    started it (a parsing worker stopped for its timeout must not leave
    Tesseract running). Linux's PR_SET_PDEATHSIG; elsewhere nothing."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def ocr_png(png: bytes, options: OcrOptions) -> OcrPage:
    """One page image through Tesseract; IngestionError-free: the caller adds the source."""
    program = shutil.which("tesseract") or "tesseract"
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(
        [program, "stdin", "stdout", "-l", options.languages, "--dpi", str(options.dpi), "tsv"],
        input=png,
        capture_output=True,
        timeout=options.page_timeout_s,
        env=env,
        check=False,
        preexec_fn=_die_with_parent,
    )
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"tesseract exited with {done.returncode}: {' '.join(detail[-2:])}")
    return parse_tsv(done.stdout.decode("utf-8", "replace"))


# -- the cache -----------------------------------------------------------------


def _cache_path(options: OcrOptions, file_hash: str, page: int) -> Path | None:
    if not options.cache_dir:
        return None
    key = json.dumps(
        [file_hash, page, options.dpi, options.languages, tesseract_version()], sort_keys=True
    )
    digest = hashlib.sha256(key.encode()).hexdigest()
    return Path(options.cache_dir) / digest[:2] / f"{digest}.json"


def _cached(path: Path | None) -> OcrPage | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return OcrPage(text=str(data["text"]), confidence=float(data["confidence"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: read the page again


def _store(path: Path | None, page: OcrPage) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(
            json.dumps({"text": page.text, "confidence": page.confidence}, ensure_ascii=False),
            encoding="utf-8",
        )
        os.replace(temporary, path)
    except OSError as exc:  # a cache that cannot be written costs time, not the file
        log.warning("OCR cache %s not written: %s", path.parent, exc)


# -- pages of a file -------------------------------------------------------------


def ocr_pages(
    source: str,
    file_hash: str,
    pages: list[int],
    render: Callable[[int], bytes],
    options: OcrOptions,
    what: str,
) -> dict[int, OcrPage]:
    """OCR ``pages`` (0-based), by page, rendering each with ``render(page) ->
    PNG`` only when the cache does not have it. Reports progress for each page
    Tesseract reads, counting only those ("page 2 of 3" of the pages not in
    the cache)."""
    if not pages:
        return {}
    if len(pages) > options.max_pages:
        raise IngestionError(
            source,
            f"{len(pages)} pages need OCR, over the limit of {options.max_pages} per file",
            "split the file, or raise CHATBOT_INGEST__OCR_MAX_PAGES",
        )
    results: dict[int, OcrPage] = {}
    for page in pages:
        cached = _cached(_cache_path(options, file_hash, page))
        if cached is not None:
            results[page] = cached
    missing = [page for page in pages if page not in results]
    if missing:
        require_tesseract(source, options, what)
    for done, page in enumerate(missing, start=1):
        result = _read_page(source, page, render, options)
        _store(_cache_path(options, file_hash, page), result)
        results[page] = result
        if _progress is not None:
            _progress(source, done, len(missing))
    return {page: results[page] for page in pages}


def _read_page(
    source: str, page: int, render: Callable[[int], bytes], options: OcrOptions
) -> OcrPage:
    try:
        return ocr_png(render(page), options)
    except subprocess.TimeoutExpired as exc:
        raise IngestionError(
            source,
            f"OCR of page {page + 1} took longer than {options.page_timeout_s:g} s",
            "check the scan; raise CHATBOT_INGEST__OCR_PAGE_TIMEOUT_S for very large pages",
        ) from exc
    except (OSError, RuntimeError, ValueError) as exc:
        missing = tesseract_version() is None
        raise IngestionError(
            source,
            f"OCR of page {page + 1} failed ({error_detail(exc)})",
            INSTALL_HINT if missing else DAMAGED_HINT,
        ) from exc


__all__ = [
    "INSTALL_HINT",
    "OcrOptions",
    "OcrPage",
    "ocr_pages",
    "parse_tsv",
    "require_tesseract",
    "set_progress",
    "tesseract_version",
]
