from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

import ingest.sync as sync_module
from chatbot.access import PUBLIC
from chatbot.domain import Chunk
from chatbot.errors import ConfigurationError
from chatbot.settings import IngestSettings
from ingest.sync import Ingestor
from ingest.sync_report import IngestReport
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex
from tests.samples import POLICY_PAGE_1, POLICY_PAGE_2, write_pdf


class Crash(Exception):
    """Stands in for the process dying mid-write."""


class CrashingVectorIndex(InMemoryVectorIndex):
    """Dies on the next upsert once ``armed``."""

    armed = False

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if self.armed:
            self.armed = False
            raise Crash
        super().upsert(chunks, vectors)


class Parts:
    def __init__(self, **ingest: object) -> None:
        self.embedder = HashEmbedder()
        self.vectors = CrashingVectorIndex()
        self.keywords = InMemoryKeywordIndex()
        # Parsed in-process: these tests are about the sync; tests/unit/test_isolation.py
        # covers the parsing worker (and a sync through it).
        ingest.setdefault("parse_memory_mb", 0)
        self.settings = IngestSettings(chunk_tokens=40, chunk_overlap=5, **ingest)  # type: ignore[arg-type]

    def ingestor(self, embedder: HashEmbedder | None = None) -> Ingestor:
        return Ingestor(embedder or self.embedder, self.vectors, self.keywords, self.settings)

    def sync(self, corpus: Path, **kwargs: object) -> IngestReport:
        return self.ingestor().sync(corpus, **kwargs)  # type: ignore[arg-type]

    def ids_by_source(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for chunk, _ in self.vectors.items.values():
            out.setdefault(chunk.source, set()).add(chunk.id)
        return out

    def assert_consistent(self) -> None:
        """Both indexes and the catalog describe exactly the same chunks."""
        vector_ids = set(self.vectors.items)
        keyword_ids = set(self.keywords.chunks)
        catalog_ids = {i for r in self.keywords.catalog().values() for i in r.chunk_ids}
        assert vector_ids == keyword_ids == catalog_ids


@pytest.fixture
def parts() -> Parts:
    return Parts()


def fill(corpus: Path) -> None:
    write_pdf(corpus / "policy.pdf", [POLICY_PAGE_1, POLICY_PAGE_2], title="DPS")
    (corpus / "cards").mkdir()
    (corpus / "cards" / "fees.md").write_text(
        "# Card fees\n\n## Annual fee\n\nThe annual fee is HKD 500, waived in year one.\n",
        encoding="utf-8",
    )
    (corpus / "hours.txt").write_text("Branches open 9:00 to 17:00 on weekdays.\n", "utf-8")


def test_first_sync_indexes_everything(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    seen: list[tuple[str, int, int]] = []
    report = parts.sync(corpus_dir, progress=lambda s, d, t: seen.append((s, d, t)))
    assert (report.files_seen, report.added, report.updated, report.unchanged) == (3, 3, 0, 0)
    assert report.ok and report.pages == 2
    assert report.chunks_written == len(parts.vectors.items) > 3
    assert seen == [
        ("cards/fees.md", 1, 3),
        ("hours.txt", 2, 3),
        ("policy.pdf", 3, 3),
    ]
    assert set(parts.ids_by_source()) == {"cards/fees.md", "hours.txt", "policy.pdf"}
    record = parts.keywords.catalog()["policy.pdf"]
    assert record.title == "DPS" and record.pages == 2 and record.language == "en"
    assert parts.keywords.get_meta("embedder") == "hash-256"
    parts.assert_consistent()


def test_second_sync_skips_unchanged_files(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    parts.sync(corpus_dir)
    calls = parts.embedder.calls
    report = parts.sync(corpus_dir)
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 0, 3, 0)
    assert report.chunks_written == 0 and report.chunks_deleted == 0
    assert parts.embedder.calls == calls  # nothing re-embedded


def test_changed_file_is_replaced(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    parts.sync(corpus_dir)
    before = parts.ids_by_source()
    (corpus_dir / "hours.txt").write_text("Branches now open 8:30 to 18:00.\n", "utf-8")
    report = parts.sync(corpus_dir)
    assert (report.updated, report.unchanged) == (1, 2)
    after = parts.ids_by_source()
    assert after["hours.txt"].isdisjoint(before["hours.txt"])
    assert after["policy.pdf"] == before["policy.pdf"]
    texts = [c.text for c in parts.keywords.chunks.values() if c.source == "hours.txt"]
    assert texts == ["Branches now open 8:30 to 18:00."]
    parts.assert_consistent()


def test_deleted_file_is_removed(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    parts.sync(corpus_dir)
    (corpus_dir / "cards" / "fees.md").unlink()
    report = parts.sync(corpus_dir)
    assert report.removed == 1 and report.chunks_deleted > 0
    assert "cards/fees.md" not in parts.ids_by_source()
    assert "cards/fees.md" not in parts.keywords.catalog()
    parts.assert_consistent()


def test_file_that_turns_corrupt_keeps_its_good_chunks(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    parts.sync(corpus_dir)
    good = parts.ids_by_source()["policy.pdf"]
    (corpus_dir / "policy.pdf").write_bytes(b"%PDF-1.7\n\x00\x01 truncated download")
    report = parts.sync(corpus_dir)
    assert not report.ok
    (failure,) = report.failed
    assert failure.source == "policy.pdf" and "damaged" in failure.reason and failure.hint
    assert parts.ids_by_source()["policy.pdf"] == good
    parts.assert_consistent()
    # Still failing next time, still not lost.
    assert parts.sync(corpus_dir).failed
    assert parts.ids_by_source()["policy.pdf"] == good


def test_new_bad_files_fail_without_stopping_the_run(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    (corpus_dir / "empty.md").write_text("", "utf-8")
    (corpus_dir / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    report = parts.sync(corpus_dir)
    assert report.added == 3
    assert sorted(f.source for f in report.failed) == ["empty.md", "latin1.txt"]


def test_unsupported_and_excluded_files(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    (corpus_dir / "README.md").write_text("# How this folder works\n\nNotes.\n", "utf-8")
    (corpus_dir / ".hidden.md").write_text("secret notes", "utf-8")
    (corpus_dir / ".git").mkdir()
    (corpus_dir / ".git" / "notes.txt").write_text("git internals", "utf-8")
    (corpus_dir / "form.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    report = parts.sync(corpus_dir)
    assert report.files_seen == 3 and report.ok
    assert [(s.source, s.reason) for s in report.skipped] == [
        ("form.doc", "unsupported file type '.doc'")
    ]
    assert "README.md" not in parts.ids_by_source()


def test_custom_exclude_patterns(corpus_dir: Path) -> None:
    parts = Parts(exclude=["drafts", "*.txt"])
    fill(corpus_dir)
    (corpus_dir / "drafts").mkdir()
    (corpus_dir / "drafts" / "new.md").write_text("Draft policy text.", "utf-8")
    parts.sync(corpus_dir)
    assert set(parts.ids_by_source()) == {"cards/fees.md", "policy.pdf"}


def test_newly_excluded_file_is_removed(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    parts.sync(corpus_dir)
    parts.settings = IngestSettings(chunk_tokens=40, chunk_overlap=5, exclude=["hours.txt"])
    report = parts.sync(corpus_dir)
    assert report.removed == 1 and "hours.txt" not in parts.ids_by_source()


def test_crash_mid_file_is_repaired_by_the_next_run(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    parts.sync(corpus_dir)
    (corpus_dir / "hours.txt").write_text("Branches open 10:00 to 16:00 from May.\n", "utf-8")
    parts.vectors.armed = True
    with pytest.raises(Crash):
        parts.sync(corpus_dir)
    # Keyword side already has the new chunk; the catalog still has the old hash.
    hours_keyword = {c.id for c in parts.keywords.chunks.values() if c.source == "hours.txt"}
    assert len(hours_keyword) == 2
    report = parts.sync(corpus_dir)
    assert report.updated == 1 and report.ok
    assert len(parts.ids_by_source()["hours.txt"]) == 1
    parts.assert_consistent()


def test_crash_then_file_deleted_leaves_no_orphans(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    parts.vectors.armed = True
    with pytest.raises(Crash):
        parts.sync(corpus_dir)  # dies on the first file, before any catalog record
    (corpus_dir / "cards" / "fees.md").unlink()
    parts.sync(corpus_dir)
    assert "cards/fees.md" not in parts.ids_by_source()
    assert all(c.source != "cards/fees.md" for c in parts.keywords.chunks.values())
    parts.assert_consistent()


def test_changed_embedder_requires_rebuild(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    parts.sync(corpus_dir)
    other = HashEmbedder(name="another-model")
    with pytest.raises(ConfigurationError, match="--rebuild"):
        parts.ingestor(other).sync(corpus_dir)
    report = parts.ingestor(other).sync(corpus_dir, rebuild=True)
    assert report.rebuilt and report.added == 3
    assert parts.keywords.get_meta("embedder") == "another-model"
    parts.assert_consistent()


def test_rebuild_wipes_strays(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    parts.sync(corpus_dir)
    stray = Chunk("stray", "x", "gone.md", "", None, "", "en", "h", "f", 0)
    parts.vectors.upsert([stray], [[1.0] + [0.0] * 255])
    parts.sync(corpus_dir, rebuild=True)
    assert "stray" not in parts.vectors.items
    parts.assert_consistent()


def test_changed_chunking_rechunks_everything(parts: Parts, corpus_dir: Path) -> None:
    fill(corpus_dir)
    parts.sync(corpus_dir)
    parts.settings = IngestSettings(chunk_tokens=25, chunk_overlap=0)
    report = parts.sync(corpus_dir)
    assert report.updated == 3
    assert parts.sync(corpus_dir).unchanged == 3
    parts.assert_consistent()


def test_missing_corpus_folder_is_a_configuration_error(parts: Parts, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CHATBOT_INGEST__CORPUS_DIR"):
        parts.sync(tmp_path / "nope")


def fill_reports(corpus: Path) -> None:
    for year, ratio in (("2023", "1.56%"), ("2024", "1.96%")):
        (corpus / year).mkdir()
        (corpus / year / "banking.md").write_text(
            f"# Banking Stability\n\nThe classified loan ratio was {ratio} at year end.\n",
            encoding="utf-8",
        )


def test_documents_carry_their_identity_into_chunks_and_catalog(
    parts: Parts, corpus_dir: Path
) -> None:
    fill_reports(corpus_dir)
    parts.sync(corpus_dir)
    record = parts.keywords.catalog()["2024/banking.md"]
    assert record.context.label == "Banking Stability · 2024" and record.period_from == "folder"
    chunks = [c for c, _ in parts.vectors.items.values() if c.source == "2024/banking.md"]
    assert chunks and all(c.context.period == "2024" for c in chunks)
    # the period is keyword-indexed with the text, which never says 2024
    hits = parts.keywords.search("2024 classified loan ratio", 5, audience=PUBLIC)
    assert hits[0].chunk.source == "2024/banking.md"
    assert parts.keywords.periods(PUBLIC) == {"2023", "2024"}


def test_changed_rules_relabel_only_the_documents_they_change(
    parts: Parts, corpus_dir: Path
) -> None:
    fill_reports(corpus_dir)
    parts.sync(corpus_dir)
    before = parts.embedder.calls
    rules = corpus_dir / "documents.toml"
    rules.write_text('[[documents]]\nmatch = "2024/**"\nseries = "HKMA Annual Report"\n', "utf-8")
    report = parts.sync(corpus_dir)
    assert (report.relabelled, report.updated, report.unchanged) == (1, 1, 1)
    assert parts.embedder.calls == before + 1  # only the relabelled file was re-embedded
    label = parts.keywords.catalog()["2024/banking.md"].context.label
    assert label == "HKMA Annual Report 2024 · Banking Stability"
    assert "documents.toml" not in parts.keywords.catalog()
    assert all(s.source != "documents.toml" for s in report.skipped)
    again = parts.sync(corpus_dir)
    assert again.unchanged == 2 and again.relabelled == 0
    parts.assert_consistent()


def test_bad_rules_stop_ingestion_and_keep_the_index(parts: Parts, corpus_dir: Path) -> None:
    fill_reports(corpus_dir)
    parts.sync(corpus_dir)
    kept = parts.ids_by_source()
    (corpus_dir / "documents.toml").write_text('[[documents]]\nmatch = "2024/**"\nyear = "2024"\n')
    (corpus_dir / "2024" / "banking.md").write_text("# Banking Stability\n\nChanged text here.\n")
    with pytest.raises(ConfigurationError, match=r"rule 1 \(line 1\): unknown key\(s\) \['year'\]"):
        parts.sync(corpus_dir)
    assert parts.ids_by_source() == kept
    parts.assert_consistent()


# -- what the scan refuses to read (issue 15) ---------------------------------


def test_links_out_of_the_folder_broken_or_looping_are_reported_not_read(
    parts: Parts, corpus_dir: Path, tmp_path: Path
) -> None:
    fill(corpus_dir)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Vault\n\nThe vault code is OUTSIDE-4242.\n", "utf-8")
    (corpus_dir / "inside.md").symlink_to("hours.txt")
    (corpus_dir / "out.md").symlink_to(outside / "secret.md")
    (corpus_dir / "out-relative.txt").symlink_to("../outside/secret.md")
    (corpus_dir / "dangling.md").symlink_to("nowhere.md")
    (corpus_dir / "loop.md").symlink_to("loop.md")
    (corpus_dir / "shared").symlink_to(outside, target_is_directory=True)
    report = parts.sync(corpus_dir)
    failed = {f.source: f for f in report.failed}
    assert set(failed) == {"out.md", "out-relative.txt", "dangling.md", "loop.md"}
    for name in ("out.md", "out-relative.txt"):
        assert failed[name].reason.startswith("links outside the corpus folder")
        assert "copy the file into the corpus folder" in failed[name].hint
    assert "does not exist" in failed["dangling.md"].reason
    assert "loop" in failed["loop.md"].reason
    assert all(f.hint for f in report.failed)
    assert ("shared", "a link to a folder: links to folders are not followed") in [
        (s.source, s.reason) for s in report.skipped
    ]
    assert "inside.md" in parts.ids_by_source()  # a link inside the folder is read
    assert not any("OUTSIDE-4242" in c.text for c in parts.keywords.chunks.values())
    assert report.files_seen == 8


def test_a_file_replaced_by_a_link_out_keeps_its_chunks(
    parts: Parts, corpus_dir: Path, tmp_path: Path
) -> None:
    fill(corpus_dir)
    parts.sync(corpus_dir)
    kept = parts.ids_by_source()["hours.txt"]
    (tmp_path / "elsewhere.txt").write_text("Moved here.\n", "utf-8")
    (corpus_dir / "hours.txt").unlink()
    (corpus_dir / "hours.txt").symlink_to(tmp_path / "elsewhere.txt")
    report = parts.sync(corpus_dir)
    assert [f.source for f in report.failed] == ["hours.txt"] and report.removed == 0
    assert parts.ids_by_source()["hours.txt"] == kept
    parts.assert_consistent()


def test_bad_file_names_are_reported_with_escapes_and_never_stored(
    parts: Parts, corpus_dir: Path
) -> None:
    fill(corpus_dir)
    (corpus_dir / "line\nbreak.md").write_text("# A\n\nSome text.\n", "utf-8")
    (corpus_dir / "esc\x1b[31m.txt").write_text("Some text.\n", "utf-8")
    latin1 = os.path.join(os.fsencode(corpus_dir), b"caf\xe9.md")
    with open(latin1, "wb") as handle:
        handle.write(b"# Cafe\n\nSome text.\n")
    report = parts.sync(corpus_dir)
    failed = {f.source: f.reason for f in report.failed}
    assert failed == {
        "line\\nbreak.md": "the file name holds a line break or control character",
        "esc\\x1b[31m.txt": "the file name holds a line break or control character",
        "caf\\xe9.md": "the file name is not valid UTF-8",
    }
    assert set(parts.ids_by_source()) == {"cards/fees.md", "hours.txt", "policy.pdf"}


def test_pipes_and_oversized_files_are_not_read(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = Parts(max_file_mb=0.01)
    fill(corpus_dir)
    os.mkfifo(corpus_dir / "pipe.txt")  # reading it would block for ever
    with (corpus_dir / "huge.txt").open("wb") as handle:
        handle.truncate(64 << 20)  # sparse: cheap to make, slow to hash
    hashed: list[str] = []
    original = sync_module.file_sha256

    def spy(path: Path, source: str) -> str:
        hashed.append(source)
        return original(path, source)

    monkeypatch.setattr(sync_module, "file_sha256", spy)
    report = parts.sync(corpus_dir)
    failed = {f.source: f.reason for f in report.failed}
    assert failed["pipe.txt"] == "not a regular file (a pipe, socket or device)"
    assert "over the 0.01 MB limit" in failed["huge.txt"]
    assert "huge.txt" not in hashed and "pipe.txt" not in hashed


class FailingEmbedder(HashEmbedder):
    """Raises on the call that embeds any text containing ``poison``."""

    def __init__(self, poison: str) -> None:
        super().__init__()
        self.poison = poison
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if any(self.poison in t for t in texts):
            raise RuntimeError("embedder failed")
        return super().embed(texts)


def test_files_are_embedded_in_pools_and_a_failed_pool_is_redone_next_run(
    parts: Parts, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(6):
        (corpus_dir / f"note{n}.txt").write_text(f"Note {n}: desk rule number {n}.\n", "utf-8")
    (corpus_dir / "note3.txt").write_text("Note 3: poison pill.\n", "utf-8")
    monkeypatch.setattr("ingest.embed_queue.POOL_TEXTS", 2)
    embedder = FailingEmbedder("poison")
    with pytest.raises(RuntimeError, match="embedder failed"):
        parts.ingestor(embedder).sync(corpus_dir)
    # Pools of two files: the first (note0, note1) was written before the
    # second (note2, note3) failed; nothing after it was recorded.
    assert set(parts.keywords.catalog()) == {"note0.txt", "note1.txt"}
    parts.assert_consistent()
    (corpus_dir / "note3.txt").write_text("Note 3: desk rule number 3.\n", "utf-8")
    report = parts.sync(corpus_dir)
    assert (report.added, report.unchanged) == (4, 2) and report.ok
    parts.assert_consistent()
