"""``ingest.check`` (``chatbot-ingest --check``): every problem kind is detected.

Most tests corrupt the in-memory fakes after a real ``Ingestor.sync``; the
group-store kinds use a fake whose group stores can be skewed. The tests
marked ``real`` run the new read methods of the SQLite and Chroma adapters
and the CLI flag against files on disk.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from chatbot.catalog import StoredChunk
from chatbot.domain import Chunk
from chatbot.settings import IngestSettings, Settings
from ingest.check import check_index
from ingest.check_report import CheckReport, PendingReason, Problem, ProblemKind
from ingest.cli import EXIT_ERROR, EXIT_INCONSISTENT, main
from ingest.sync import Ingestor
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex

ACCESS = """\
groups = ["staff", "board"]
default = ["staff"]

[[documents]]
match = "public/**"
groups = ["everyone"]

[[documents]]
match = "board/**"
groups = ["board", "staff"]
"""


class SkewedVectors(InMemoryVectorIndex):
    """The fake vector index, with group stores a test can corrupt (the fake
    derives them from the labels, so they always agree otherwise)."""

    def __init__(self) -> None:
        super().__init__()
        self.skew: dict[str, dict[str, tuple[str, ...] | None]] = {}

    def group_labels(self) -> dict[str, dict[str, tuple[str, ...]]]:
        stores = super().group_labels()
        for group, changes in self.skew.items():
            store = stores.setdefault(group, {})
            for chunk_id, label in changes.items():
                if label is None:
                    store.pop(chunk_id, None)
                else:
                    store[chunk_id] = label
        return stores


class Parts:
    def __init__(self) -> None:
        self.vectors = SkewedVectors()
        self.keywords = InMemoryKeywordIndex()
        settings = IngestSettings(chunk_tokens=40, chunk_overlap=5, parse_memory_mb=0)
        self.ingestor = Ingestor(HashEmbedder(), self.vectors, self.keywords, settings)

    def check(self, corpus: Path | None = None) -> CheckReport:
        return check_index(self.keywords, self.vectors, corpus)

    def ids(self, source: str) -> list[str]:
        return list(self.keywords.catalog()[source].chunk_ids)

    def chunk(self, chunk_id: str) -> Chunk:
        return self.keywords.chunks[chunk_id]


def fill(corpus: Path) -> Path:
    (corpus / "public").mkdir()
    (corpus / "board").mkdir()
    (corpus / "access.toml").write_text(ACCESS, encoding="utf-8")
    (corpus / "public" / "fees.md").write_text(
        "# Card fees\n\n## Annual fee\n\nThe annual fee is HKD 500, waived in year one. "
        "Late payment costs HKD 300. Foreign currency transactions cost 1.95 percent.\n\n"
        "## Replacement cards\n\nA lost card is replaced free of charge within five working "
        "days. An express replacement by courier costs HKD 150 and arrives the next day.\n",
        encoding="utf-8",
    )
    (corpus / "board" / "minutes.txt").write_text(
        "The board approved the capital plan. The dividend is deferred to the third quarter. "
        "Liquidity buffers rise to 120 percent of outflows.\n\nThe audit committee reviewed "
        "the model risk findings and asked for a remediation plan before the next meeting. "
        "Two directors abstained on the branch closure programme.\n",
        encoding="utf-8",
    )
    (corpus / "hours.txt").write_text("Branches open 9:00 to 17:00 on weekdays.\n", "utf-8")
    return corpus


@pytest.fixture
def parts(corpus_dir: Path) -> Parts:
    fill(corpus_dir)
    parts = Parts()
    assert parts.ingestor.sync(corpus_dir).ok
    return parts


def only(report: CheckReport) -> Problem:
    assert len(report.problems) == 1, [p.line() for p in report.problems]
    return report.problems[0]


def test_a_fresh_index_is_consistent(parts: Parts, corpus_dir: Path) -> None:
    report = parts.check(corpus_dir)
    assert report.ok and not report.needs_sync
    assert report.documents == 3
    assert report.chunks == len(parts.keywords.chunks) > 3
    assert report.group_stores == 3  # everyone, board, staff
    assert report.summary().startswith("index consistent")


def test_duplicate_ids_in_the_catalog(parts: Parts) -> None:
    record = parts.keywords.catalog()["hours.txt"]
    stolen = parts.ids("public/fees.md")[0]
    parts.keywords.record_document(replace(record, chunk_ids=(*record.chunk_ids, stolen)))
    problem = only(parts.check())
    assert (problem.kind, problem.source, problem.chunk_ids) == (
        ProblemKind.DUPLICATE,
        "hours.txt",
        (stolen,),
    )
    assert "also under public/fees.md" in problem.message and "--rebuild" in problem.message


def test_missing_from_the_keyword_index(parts: Parts) -> None:
    gone = parts.ids("public/fees.md")[:1]
    parts.keywords.delete_ids(gone)
    problem = only(parts.check())
    assert (problem.kind, problem.source, problem.chunk_ids) == (
        ProblemKind.MISSING_KEYWORD,
        "public/fees.md",
        tuple(gone),
    )
    # The file is unchanged: a plain sync would skip it, so the hint is --rebuild.
    assert "skips the unchanged file" in problem.message
    assert "`chatbot-ingest --rebuild`" in problem.message


def test_stored_under_another_source(parts: Parts) -> None:
    (chunk_id,) = parts.ids("hours.txt")[:1]
    parts.keywords.chunks[chunk_id] = replace(parts.chunk(chunk_id), source="elsewhere.txt")
    kinds = {p.kind for p in parts.check().problems}
    assert ProblemKind.WRONG_SOURCE in kinds


def test_incomplete_in_the_keyword_index(parts: Parts) -> None:
    (chunk_id,) = parts.ids("hours.txt")[:1]
    parts.keywords.chunks[chunk_id] = replace(parts.chunk(chunk_id), text="")
    problem = only(parts.check())
    assert problem.kind is ProblemKind.INCOMPLETE_KEYWORD and problem.chunk_ids == (chunk_id,)


def test_labels_that_differ_from_the_catalog(parts: Parts) -> None:
    ids = parts.ids("board/minutes.txt")
    parts.keywords.relabel(ids, ["everyone"])
    problem = only(parts.check())
    assert problem.kind is ProblemKind.KEYWORD_LABEL
    assert "[everyone] in the keyword index but the catalog says [board, staff]" in (
        problem.message
    )

    parts.keywords.relabel(ids, ["board", "staff"])
    parts.vectors.relabel(ids, [])
    kinds = {p.kind for p in parts.check().problems}
    # The label is wrong, and so the chunks are missing from their groups' stores.
    assert ProblemKind.VECTOR_LABEL in kinds
    vector = next(p for p in parts.check().problems if p.kind is ProblemKind.VECTOR_LABEL)
    assert "[] (no group) in the vector index" in vector.message


def test_orphans_under_a_recorded_source(parts: Parts) -> None:
    old = parts.chunk(parts.ids("hours.txt")[0])
    stale = replace(old, id="stale-1", text="An old version of the opening hours.")
    parts.keywords.upsert([stale])
    problem = only(parts.check())
    assert (problem.kind, problem.source, problem.chunk_ids) == (
        ProblemKind.ORPHAN_KEYWORD,
        "hours.txt",
        ("stale-1",),
    )

    parts.keywords.delete_ids(["stale-1"])
    parts.vectors.upsert([stale], HashEmbedder().embed([stale.text]))
    problem = only(parts.check())
    assert problem.kind is ProblemKind.ORPHAN_VECTOR
    # Only the vector index has it: a sync never sees it.
    assert "cannot see them" in problem.message and "--rebuild" in problem.message


def test_chunks_of_a_source_the_catalog_does_not_know(parts: Parts) -> None:
    ghost = replace(parts.chunk(parts.ids("hours.txt")[0]), id="ghost-1", source="ghost.md")
    parts.keywords.upsert([ghost])
    parts.vectors.upsert([ghost], HashEmbedder().embed([ghost.text]))
    problem = only(parts.check())
    assert (problem.kind, problem.source) == (ProblemKind.UNRECORDED_SOURCE, "ghost.md")
    assert "keyword index and vector index" in problem.message
    # The keyword index knows it by source: a plain sync finishes the job.
    assert "run `chatbot-ingest` to finish it" in problem.message

    parts.keywords.delete_ids(["ghost-1"])
    problem = only(parts.check())
    assert problem.kind is ProblemKind.UNRECORDED_SOURCE and problem.source == "ghost.md"
    assert "cannot see chunks the keyword index lacks" in problem.message


def test_missing_from_the_vector_index(parts: Parts) -> None:
    gone = parts.ids("board/minutes.txt")
    parts.vectors.delete_ids(gone)
    problem = only(parts.check())
    assert (problem.kind, problem.source, problem.chunk_ids) == (
        ProblemKind.MISSING_VECTOR,
        "board/minutes.txt",
        tuple(sorted(gone)),
    )


def test_group_stores_missing_extra_and_mislabelled(parts: Parts) -> None:
    (first, *_) = parts.ids("board/minutes.txt")
    public = parts.ids("public/fees.md")[0]
    parts.vectors.skew = {
        "board": {first: None},  # missing from a group it is in
        "staff": {public: ("everyone",), "nowhere-1": ("staff",)},  # extra, and unknown
        "everyone": {public: ("board",)},  # a copy with another label
    }
    problems = {(p.kind, p.group, p.source): p for p in parts.check().problems}
    assert set(problems) == {
        (ProblemKind.GROUP_MISSING, "board", "board/minutes.txt"),
        (ProblemKind.GROUP_EXTRA, "staff", "public/fees.md"),
        (ProblemKind.GROUP_EXTRA, "staff", ""),
        (ProblemKind.GROUP_LABEL, "everyone", "public/fees.md"),
    }
    missing = problems[(ProblemKind.GROUP_MISSING, "board", "board/minutes.txt")]
    assert missing.chunk_ids == (first,)
    assert "collection of group 'board'" in missing.message
    unknown = problems[(ProblemKind.GROUP_EXTRA, "staff", "")]
    assert unknown.chunk_ids == ("nowhere-1",) and "no store knows the source" in unknown.message


def test_changed_and_gone_files_need_a_sync_but_are_consistent(
    parts: Parts, corpus_dir: Path
) -> None:
    (corpus_dir / "hours.txt").write_text("Branches open 8:00 to 18:00.\n", "utf-8")
    (corpus_dir / "board" / "minutes.txt").unlink()
    report = parts.check(corpus_dir)
    assert report.ok
    assert {(p.source, p.reason) for p in report.needs_sync} == {
        ("hours.txt", PendingReason.CHANGED),
        ("board/minutes.txt", PendingReason.GONE),
    }
    # A problem on a file the next sync redoes anyway: the hint says so.
    parts.vectors.delete_ids(parts.ids("hours.txt"))
    problem = only(parts.check(corpus_dir))
    assert "hours.txt needs a sync anyway: run `chatbot-ingest` to repair" in problem.message
    assert parts.ingestor.sync(corpus_dir).ok
    assert parts.check(corpus_dir).ok and not parts.check(corpus_dir).needs_sync


def test_a_record_marked_unfinished_needs_a_sync(parts: Parts, corpus_dir: Path) -> None:
    # ``ingest.sync`` marks a record so while it relabels the file's chunks.
    record = parts.keywords.catalog()["hours.txt"]
    parts.keywords.record_document(replace(record, file_hash=""))
    report = parts.check(corpus_dir)
    assert report.ok
    assert [(p.source, p.reason) for p in report.needs_sync] == [
        ("hours.txt", PendingReason.UNFINISHED)
    ]


def test_a_problem_line_names_a_few_ids() -> None:
    ids = tuple(f"c-{i}" for i in range(8))
    line = Problem(ProblemKind.MISSING_VECTOR, "a.md", ids, "Eight are missing.").line()
    assert line == (
        "PROBLEM [missing_vector] Eight are missing. (chunk ids: c-0, c-1, c-2, c-3, c-4, +3 more)"
    )


# -- the CLI flag (no index on disk needed for these) -------------------------


@pytest.fixture
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env from the repository


@pytest.mark.usefixtures("_in_tmp")
def test_check_without_an_index_exits_2(corpus_dir: Path) -> None:
    result = CliRunner().invoke(main, ["--check", "--corpus", str(corpus_dir)])
    assert result.exit_code == EXIT_ERROR
    assert "run `chatbot-ingest` first" in result.stderr


@pytest.mark.usefixtures("_in_tmp")
def test_check_does_not_combine_with_a_sync(corpus_dir: Path) -> None:
    result = CliRunner().invoke(main, ["--check", "--rebuild", "--corpus", str(corpus_dir)])
    assert result.exit_code == 2
    assert "--check syncs nothing" in result.output


def test_help_shows_the_check() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert "chatbot-ingest --check" in result.output and "exit 3" in result.output


# -- the real adapters ----------------------------------------------------------


def real_parts(settings: Settings) -> tuple[Ingestor, object, object]:
    from chatbot.compose import build_keyword_index, build_vector_index

    vectors = build_vector_index(settings)
    keywords = build_keyword_index(settings)
    ingest = settings.ingest.model_copy(update={"chunk_tokens": 40, "chunk_overlap": 5})
    return Ingestor(HashEmbedder(), vectors, keywords, ingest), vectors, keywords


@pytest.mark.real
def test_sqlite_inventory_sees_missing_terms_and_labels(tmp_path: Path) -> None:
    import sqlite3

    from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex

    index = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    chunks = [
        Chunk(f"id-{i}", f"text number {i}", "s.md", "S", None, "", "en", "c", "f", i)
        for i in range(3)
    ]
    index.upsert([replace(chunks[0], groups=("board", "staff")), *chunks[1:]])
    found = {c.id: c for c in index.stored_chunks()}
    assert found["id-0"] == StoredChunk("id-0", "s.md", ("board", "staff"), True)
    assert all(c.complete for c in found.values()) and len(found) == 3
    index.close()

    db = sqlite3.connect(tmp_path / "kw.sqlite3")
    with db:
        db.execute(
            "DELETE FROM chunks_fts WHERE rowid = (SELECT rowid FROM chunks WHERE id='id-1')"
        )
        db.execute("UPDATE chunks SET groups = 'board' WHERE id = 'id-2'")  # the terms say everyone
    db.close()
    index = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    found = {c.id: c for c in index.stored_chunks()}
    assert (found["id-0"].complete, found["id-1"].complete, found["id-2"].complete) == (
        True,
        False,
        False,
    )
    index.close()


@pytest.mark.real
def test_chroma_inventory_pages_and_reads_every_label(tmp_path: Path) -> None:
    from chatbot.adapters.chroma_index import ChromaVectorIndex

    index = ChromaVectorIndex(collection="inventory", path=tmp_path / "chroma")

    def groups(i: int) -> tuple[str, ...]:
        # The first probe round (64 ids) sees only 'everyone': the other
        # labels are found in later rounds.
        return (
            ("everyone",)
            if i < 100
            else ("board", "staff")
            if i < 140
            else ()
            if i < 150
            else ("board",)
        )

    chunks = [
        replace(
            Chunk(f"id-{i}", f"text {i}", "s.md", "S", None, "", "en", "c", "f", i),
            groups=groups(i),
        )
        for i in range(160)
    ]
    index.upsert(chunks, HashEmbedder().embed([c.text for c in chunks]))
    index._session.batch = 7  # read in pages of 7 ids, to cross page boundaries with few chunks
    assert index.stored_labels() == {c.id: c.groups for c in chunks}
    stores = index.group_labels()
    assert set(stores) == {g for c in chunks for g in c.groups}
    for group, members in stores.items():
        assert members == {c.id: c.groups for c in chunks if group in c.groups}


@pytest.mark.real
def test_real_indexes_check_and_cli(
    settings: Settings, corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chromadb

    from chatbot.adapters.chroma_session import group_collection_name

    monkeypatch.chdir(tmp_path)
    fill(corpus_dir)
    ingestor, vectors, keywords = real_parts(settings)
    assert ingestor.sync(corpus_dir).ok
    assert check_index(keywords, vectors, corpus_dir).ok  # type: ignore[arg-type]

    # The CLI, in a fresh interpreter: consistent, and no model was imported.
    probe = (
        "import sys; from ingest.cli import main\n"
        "try:\n    main(['--check', '--corpus', sys.argv[1]])\n"
        "except SystemExit as e:\n"
        "    print('exit', e.code, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(corpus_dir)], capture_output=True, text=True, timeout=120
    )
    assert "index consistent" in done.stdout, done.stderr
    assert done.stdout.strip().endswith("exit 0 False False")

    # Corrupt Chroma behind the adapter's back: a board chunk leaves the board
    # collection and lands in the 'everyone' one.
    client = chromadb.PersistentClient(
        path=str(settings.index.path / "chroma"),
        settings=chromadb.config.Settings(anonymized_telemetry=False),
    )
    board = client.get_collection(group_collection_name(settings.index.collection, "board"))
    everyone = client.get_collection(group_collection_name(settings.index.collection, "everyone"))
    taken = board.get(limit=1, include=["embeddings", "documents", "metadatas"])
    board.delete(ids=taken["ids"])
    everyone.add(
        ids=taken["ids"],
        embeddings=taken["embeddings"],
        documents=taken["documents"],
        metadatas=taken["metadatas"],
    )
    result = CliRunner().invoke(main, ["--check", "--corpus", str(corpus_dir)])
    assert result.exit_code == EXIT_INCONSISTENT, result.output
    assert "PROBLEM [group_missing]" in result.output and "PROBLEM [group_extra]" in result.output
    assert "index INCONSISTENT: 2 problem(s)" in result.output
