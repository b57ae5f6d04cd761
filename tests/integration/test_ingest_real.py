"""End to end with the real parts: packaged embedder, Chroma on disk, SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chatbot.access import PUBLIC
from chatbot.adapters.chroma_index import ChromaVectorIndex
from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex
from chatbot.adapters.st_embedder import SentenceTransformerEmbedder
from chatbot.compose import build_keyword_index, build_vector_index
from chatbot.settings import Settings
from ingest.cli import main
from ingest.sync import Ingestor
from tests.samples import POLICY_PAGE_1, POLICY_PAGE_2, write_pdf

pytestmark = pytest.mark.real


def small_corpus(folder: Path) -> Path:
    write_pdf(folder / "dps-guide.pdf", [POLICY_PAGE_1, POLICY_PAGE_2], title="DPS Guide")
    (folder / "cards.md").write_text(
        "# Credit Cards\n\n## Annual fee\n\nThe annual fee for the Classic card is HKD 500 and "
        "is waived in the first year.\n\n## Lost cards\n\nReport a lost card by phone at once; "
        "you are not liable for transactions after the report.\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def parts(
    settings: Settings, real_embedder: SentenceTransformerEmbedder
) -> tuple[Ingestor, ChromaVectorIndex, SqliteKeywordIndex]:
    vectors = build_vector_index(settings)
    keywords = build_keyword_index(settings)
    return Ingestor(real_embedder, vectors, keywords, settings.ingest), vectors, keywords


def test_ingest_and_query_both_indexes(
    parts: tuple[Ingestor, ChromaVectorIndex, SqliteKeywordIndex],
    real_embedder: SentenceTransformerEmbedder,
    corpus_dir: Path,
    settings: Settings,
) -> None:
    ingestor, vectors, keywords = parts
    small_corpus(corpus_dir)
    report = ingestor.sync(corpus_dir)
    assert report.ok and report.added == 2 and report.pages == 2
    assert vectors.count() == keywords.count() == report.chunks_written

    question = "Which deposits are excluded from protection?"
    (top, *_) = vectors.query(real_embedder.embed([question])[0], k=3, audience=PUBLIC)
    assert top.chunk.source == "dps-guide.pdf" and top.chunk.page == 2
    assert "Structured deposits" in top.chunk.text
    assert top.chunk.section == "3. Exclusions"
    assert 0.3 < top.score <= 1.0

    (best, *_) = keywords.search("how fast is compensation paid", k=3, audience=PUBLIC)
    assert best.chunk.source == "dps-guide.pdf" and best.chunk.page == 1

    (card,) = keywords.search("annual fee Classic card", k=1, audience=PUBLIC)
    assert card.chunk.page is None and card.chunk.section == "Annual fee"
    assert card.chunk.title == "Credit Cards"

    status = keywords.status()
    assert (status.documents, status.pages) == (2, 2)
    assert status.embedder == "sentence-transformers/all-MiniLM-L6-v2"

    again = ingestor.sync(corpus_dir)
    assert again.unchanged == 2 and again.chunks_written == 0
    assert settings.index.path.is_dir()


def test_token_limit_holds_with_the_real_tokenizer(
    parts: tuple[Ingestor, ChromaVectorIndex, SqliteKeywordIndex],
    real_embedder: SentenceTransformerEmbedder,
    corpus_dir: Path,
    settings: Settings,
) -> None:
    ingestor, _, keywords = parts
    text = " ".join(
        f"Clause {i}: the bank may vary interest rates on variable-rate loans with notice."
        for i in range(200)
    )
    (corpus_dir / "terms.txt").write_text(text, encoding="utf-8")
    ingestor.sync(corpus_dir)
    ids = keywords.ids_for_source("terms.txt")
    chunks = keywords.get_chunks(ids)
    assert len(chunks) > 5
    limit = settings.ingest.chunk_tokens
    assert all(real_embedder.token_length(c.text) <= limit for c in chunks)
    assert limit + 2 <= real_embedder.max_tokens  # nothing is silently truncated


# -- the CLI ---------------------------------------------------------------


def run_cli(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_ingests_then_reports_failures(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env from the repository
    small_corpus(corpus_dir)
    code, out, _ = run_cli(["--corpus", str(corpus_dir)])
    assert code == 0
    assert "2 files (2 added, 0 updated, 0 unchanged), 2 pages" in out
    assert "0 failed" in out
    assert "index: 2 documents, 2 pages," in out

    (corpus_dir / "scan.pdf").write_bytes(b"%PDF-1.4\nnot really")
    (corpus_dir / "notes.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    code, out, err = run_cli(["--corpus", str(corpus_dir)])
    assert code == 1
    assert "FAILED scan.pdf: the PDF is damaged" in err and "->" in err
    assert "skipped notes.doc: unsupported file type" in err
    assert "(0 added, 0 updated, 2 unchanged)" in out and "1 failed" in out


def test_cli_rebuild(corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    small_corpus(corpus_dir)
    assert run_cli(["--corpus", str(corpus_dir)])[0] == 0
    code, out, _ = run_cli(["--corpus", str(corpus_dir), "--rebuild"])
    assert code == 0 and out.startswith("rebuilt: ") and "2 added" in out


def test_cli_lists_detected_identities(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (corpus_dir / "2024").mkdir()
    (corpus_dir / "2024" / "banking.md").write_text("# Banking Stability\n\nRatio 1.96%.\n")
    (corpus_dir / "policy-v2.md").write_text("# Credit policy\n\nThe limit is HK$2 million.\n")
    (corpus_dir / "documents.toml").write_text(
        '[[documents]]\nmatch = "policy-v2.md"\nversion = "2"\neffective = "2025-01-01"\n'
    )
    code, out, _ = run_cli(["--corpus", str(corpus_dir), "--list"])
    assert code == 0 and "2 files (2 added" in out
    assert "2024/banking.md\tBanking Stability · 2024; period 2024 (from folder)" in out
    assert (
        "policy-v2.md\tCredit policy · version 2 (effective 2025-01-01); no period; "
        "version 2, effective 2025-01-01"
    ) in out


def test_sample_corpus_ingests_cleanly(
    repo_root: Path,
    parts: tuple[Ingestor, ChromaVectorIndex, SqliteKeywordIndex],
) -> None:
    corpus = repo_root / "corpus"
    if not corpus.is_dir() or not any(p.name != "README.md" for p in corpus.iterdir()):
        pytest.skip("no sample corpus in corpus/")
    ingestor, vectors, keywords = parts
    report = ingestor.sync(corpus)
    assert report.ok, report.failed
    assert report.added == report.files_seen > 0
    assert vectors.count() == keywords.count() == report.chunks_written
    for record in keywords.catalog().values():
        assert record.chunks > 0 and record.title
        if record.source.endswith(".pdf"):
            assert record.pages > 0


class _Reached(Exception):
    """The pipeline reached the LLM, with this prompt."""


class _StopAtLLM:
    """A generator that stops the question at the LLM call, keeping the prompt."""

    model_name = "stop-at-llm"

    def stream(self, messages: list[Any]) -> object:
        raise _Reached(messages[-1].content)


def test_dated_reports_with_real_parts(
    parts: tuple[Ingestor, ChromaVectorIndex, SqliteKeywordIndex],
    real_embedder: SentenceTransformerEmbedder,
    corpus_dir: Path,
    settings: Settings,
) -> None:
    """Year folders become periods in Chroma and SQLite; the year alone ranks the
    right chapter first; an uncovered year is refused before any LLM call."""
    from chatbot.compose import Stores, build_pipeline
    from chatbot.domain import Refusal, RefusalReason

    ingestor, vectors, keywords = parts
    for year, ratio in (("2022", "1.40%"), ("2023", "1.57%"), ("2024", "1.96%")):
        (corpus_dir / year).mkdir()
        (corpus_dir / year / "banking.md").write_text(
            "# Banking Stability\n\nThe classified loan ratio of the banking sector rose to "
            f"{ratio} at the end of the year, as asset quality weakened.\n",
            encoding="utf-8",
        )
    assert ingestor.sync(corpus_dir).added == 3
    assert keywords.periods(PUBLIC) == {"2022", "2023", "2024"}
    question = "What was the classified loan ratio in 2023?"
    # The year is keyword-indexed with the text, which never names it.
    assert (
        keywords.search(question, 3, audience=PUBLIC)[0].chunk.context.label
        == "Banking Stability · 2023"
    )
    pipeline = build_pipeline(
        settings,
        stores=Stores(real_embedder, vectors, keywords),
        generator=_StopAtLLM(),  # type: ignore[arg-type]
    )
    with pytest.raises(_Reached) as reached:
        pipeline.answer(question)
    assert str(reached.value).index("[1] (Banking Stability · 2023)") >= 0
    assert "1.57%" in str(reached.value).split("[2]")[0]
    refused = pipeline.answer("What was the classified loan ratio in 2012?")
    assert isinstance(refused, Refusal) and refused.reason is RefusalReason.PERIOD_NOT_COVERED
    assert "2022–2024" in refused.message
