"""The parsing worker: results, limits, crashes (``ingest.isolation``, ``ingest.worker``).

The deliberately bad parsers below run inside the worker process, which
imports them from this module by name, so they live at module level, and the
module imports little at its top (each worker start imports it again): the
settings, the sync and the test builders are imported where they are used.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from chatbot.errors import IngestionError
from ingest.blocks import Block, LoadedDocument
from ingest.isolation import (
    InProcessLoader,
    IsolatedLoader,
    ParseLimits,
    limits_from,
    open_loader,
)
from ingest.loaders import load_document

LIMITS = ParseLimits(timeout_s=20, memory_mb=512, max_file_mb=5)


def _doc(source: str, title: str) -> LoadedDocument:
    return LoadedDocument(source, title, "0" * 64, (Block(text="text"),))


def sleepy(path: Path, source: str, *, max_file_mb: float, **_: object) -> LoadedDocument:
    if path.name.startswith("slow"):
        time.sleep(60)
    return _doc(source, f"pid {os.getpid()}")


def greedy(path: Path, source: str, *, max_file_mb: float, **_: object) -> LoadedDocument:
    hoard = [bytearray(64 << 20) for _ in range(64)]  # 4 GB, 64 MB at a time
    return _doc(source, str(len(hoard)))


def segfault(path: Path, source: str, *, max_file_mb: float, **_: object) -> LoadedDocument:
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(5)
    raise AssertionError("still alive")


def exits(path: Path, source: str, *, max_file_mb: float, **_: object) -> LoadedDocument:
    os._exit(7)


def buggy(path: Path, source: str, *, max_file_mb: float, **_: object) -> LoadedDocument:
    raise KeyError("/Kids")


def chatty(path: Path, source: str, *, max_file_mb: float, **_: object) -> LoadedDocument:
    logging.getLogger("ingest.pdf").warning("%s: 2 of 3 pages have no text", source)
    return _doc(source, "chatty")


def slow_scan(path: Path, source: str, *, max_file_mb: float, **_: object) -> LoadedDocument:
    """Three OCR pages of 1.2 s each, reported as ``ingest.ocr.ocr_pages`` does."""
    from ingest import ocr

    for page in range(1, 4):
        time.sleep(1.2)
        if ocr._progress is not None:
            ocr._progress(source, page, 3)
    return _doc(source, "scanned")


def heavy_modules(path: Path, source: str, *, max_file_mb: float, **_: object) -> LoadedDocument:
    heavy = ("torch", "sentence_transformers", "chromadb", "transformers", "ingest.cli")
    return _doc(source, ",".join(m for m in heavy if m in sys.modules))


@pytest.fixture
def note(tmp_path: Path) -> Path:
    path = tmp_path / "note.md"
    path.write_text("# Card fees\n\n## Annual fee\n\nThe annual fee is HKD 500.\n", "utf-8")
    return path


def test_the_worker_returns_what_load_document_returns(note: Path, tmp_path: Path) -> None:
    from tests.samples import POLICY_PAGE_1, POLICY_PAGE_2, write_pdf

    pdf = write_pdf(tmp_path / "policy.pdf", [POLICY_PAGE_1, POLICY_PAGE_2], title="DPS")
    with IsolatedLoader(LIMITS) as loader:
        for path in (note, pdf):
            assert loader.load(path, path.name) == load_document(path, path.name, max_file_mb=5)
        assert loader.stats.starts == 1 and loader.stats.files == 2
        assert 0 < loader.stats.peak_rss_mb < LIMITS.memory_mb


def test_each_ocr_page_read_gives_the_file_another_timeout(
    note: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = ParseLimits(timeout_s=2.0, memory_mb=512, max_file_mb=5)
    with (
        caplog.at_level(logging.INFO, logger="ingest.isolation"),
        IsolatedLoader(limits, parse=slow_scan) as loader,
    ):
        assert loader.load(note, "scan.pdf").title == "scanned"  # 3.6 s in all, 1.2 s a page
    assert "scan.pdf: OCR page 1 of 3" in caplog.text
    assert "scan.pdf: OCR page 3 of 3" in caplog.text


def test_an_unusable_file_fails_as_it_would_in_process(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Caf\xe9".encode("latin-1"))
    with pytest.raises(IngestionError) as in_process:
        load_document(bad, "latin1.txt", max_file_mb=5)
    with IsolatedLoader(LIMITS) as loader, pytest.raises(IngestionError) as isolated:
        loader.load(bad, "latin1.txt")
    assert (isolated.value.source, isolated.value.reason, isolated.value.hint) == (
        in_process.value.source,
        in_process.value.reason,
        in_process.value.hint,
    )


def test_the_worker_starts_lazily_is_reused_and_imports_no_model(
    note: Path, tmp_path: Path
) -> None:
    loader = IsolatedLoader(LIMITS, parse=sleepy)
    with loader:
        pass
    assert loader.stats.starts == 0  # nothing to parse, nothing started
    with IsolatedLoader(LIMITS, parse=sleepy) as loader:
        first = loader.load(note, "a.md").title
        assert loader.load(note, "b.md").title == first != f"pid {os.getpid()}"
    assert loader.stats.starts == 1
    with IsolatedLoader(LIMITS, parse=heavy_modules) as loader:
        assert loader.load(note, "note.md").title == ""


def test_a_file_that_takes_too_long_fails_and_the_next_one_gets_a_fresh_worker(
    tmp_path: Path, note: Path
) -> None:
    slow = tmp_path / "slow.md"
    slow.write_text("x", "utf-8")
    limits = ParseLimits(timeout_s=1.0, memory_mb=512, max_file_mb=5)
    with IsolatedLoader(limits, parse=sleepy) as loader:
        loader.load(note, "note.md")  # started, so the clock below is the file's alone
        started = time.perf_counter()
        with pytest.raises(IngestionError) as failed:
            loader.load(slow, "slow.md")
        assert time.perf_counter() - started < 5
        assert failed.value.source == "slow.md"
        assert failed.value.reason == "parsing took longer than 1 s"
        assert "CHATBOT_INGEST__PARSE_TIMEOUT_S" in failed.value.hint
        assert loader.load(note, "note.md").title.startswith("pid ")
    assert (loader.stats.starts, loader.stats.restarts, loader.stats.files) == (2, 1, 3)


def test_a_file_that_needs_too_much_memory_fails(note: Path) -> None:
    limits = ParseLimits(timeout_s=20, memory_mb=256, max_file_mb=5)
    with IsolatedLoader(limits, parse=greedy) as loader:
        with pytest.raises(IngestionError) as failed:
            loader.load(note, "bomb.pdf")
        assert failed.value.reason == "parsing needed more than 256 MB of memory"
        assert "CHATBOT_INGEST__PARSE_MEMORY_MB" in failed.value.hint
        assert loader.stats.peak_rss_mb < 256


@pytest.mark.parametrize(
    ("parse", "reason"),
    [
        (segfault, "the parser crashed (signal 11)"),
        (exits, "the parser exited unexpectedly (status 7)"),
        (buggy, "the parser failed (KeyError: '/Kids')"),
    ],
)
def test_a_crashing_parser_fails_the_file_not_the_caller(
    note: Path, parse: object, reason: str
) -> None:
    with IsolatedLoader(LIMITS, parse=parse) as loader:  # type: ignore[arg-type]
        for _ in range(2):  # and again, from a fresh worker where it died
            with pytest.raises(IngestionError) as failed:
                loader.load(note, "note.md")
            assert (failed.value.source, failed.value.reason) == ("note.md", reason)
            assert failed.value.hint


def test_a_killed_worker_is_reported_and_replaced(note: Path) -> None:
    with IsolatedLoader(LIMITS, parse=sleepy) as loader:
        pid = int(loader.load(note, "a.md").title.split()[1])
        os.kill(pid, signal.SIGKILL)  # between two files: not the next file's fault
        _wait_dead(pid)
        assert loader.load(note, "b.md").title != f"pid {pid}"
        assert loader.stats.restarts == 1


def _wait_dead(pid: int) -> None:
    """Until the process is gone or a zombie (Linux /proc)."""
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} still running")


def test_log_records_come_back_to_the_parent(note: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO), IsolatedLoader(LIMITS, parse=chatty) as loader:
        loader.load(note, "scan.pdf")
    assert ("ingest.pdf", logging.WARNING, "scan.pdf: 2 of 3 pages have no text") in (
        caplog.record_tuples
    )


def test_memory_zero_parses_in_process(note: Path) -> None:
    from chatbot.settings import IngestSettings

    settings = IngestSettings(parse_memory_mb=0)
    with open_loader(limits_from(settings), parse=sleepy) as loader:
        assert isinstance(loader, InProcessLoader)
        assert loader.load(note, "note.md").title == f"pid {os.getpid()}"
    defaults = limits_from(IngestSettings())
    assert (defaults.timeout_s, defaults.memory_mb) == (60, 2048)
    assert isinstance(open_loader(defaults), IsolatedLoader)


def test_a_sync_through_the_worker_matches_one_in_process(tmp_path: Path) -> None:
    from chatbot.settings import IngestSettings
    from ingest.sync import Ingestor
    from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex
    from tests.samples import POLICY_PAGE_1, POLICY_PAGE_2, write_pdf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_pdf(corpus / "policy.pdf", [POLICY_PAGE_1, POLICY_PAGE_2], title="DPS")
    (corpus / "fees.md").write_text("# Card fees\n\nThe annual fee is HKD 500.\n", "utf-8")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n\x00 truncated")
    chunks = []
    for memory_mb in (2048, 0):
        keywords = InMemoryKeywordIndex()
        settings = IngestSettings(chunk_tokens=40, chunk_overlap=5, parse_memory_mb=memory_mb)
        ingestor = Ingestor(HashEmbedder(), InMemoryVectorIndex(), keywords, settings)
        report = ingestor.sync(corpus)
        assert report.added == 2 and [f.source for f in report.failed] == ["broken.pdf"]
        chunks.append(sorted((c.id, c.text) for c in keywords.chunks.values()))
    assert chunks[0] == chunks[1]
