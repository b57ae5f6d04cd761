"""Per-dataset indexes: one chunk per context (or several for long ones),
cached by content so a second run embeds nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.access import PUBLIC
from chatbot.settings import Settings
from eval.indexing import MARKER, build_context_index, build_corpus_index, context_chunks
from eval.items import Context, EvalSet
from ingest.chunking import Chunker
from tests.fakes import HashEmbedder

SHORT = Context("squad2/Normans/000", "Normans", "The Normans were a people of Normandy.")
LONG = Context(
    "drcd/1-1", "長文", " ".join(f"Sentence number {i} about banks." for i in range(200))
)
SET = EvalSet("tiny", (), (SHORT, LONG))


def test_short_context_is_one_chunk_and_long_one_is_split() -> None:
    embedder = HashEmbedder()
    chunker = Chunker(embedder.token_length, 50, 10)
    chunks = context_chunks((SHORT, LONG), chunker, embedder.token_length, 50)
    short = [c for c in chunks if c.source == SHORT.id]
    long = [c for c in chunks if c.source == LONG.id]
    assert len(short) == 1
    assert short[0].text == SHORT.text and short[0].title == "Normans"
    assert short[0].page is None and short[0].language == "en"
    assert len(long) > 5
    assert all(embedder.token_length(c.text) <= 50 for c in long)
    assert len({c.id for c in chunks}) == len(chunks)


@pytest.mark.real  # Chroma on disk
def test_context_index_is_built_once_then_reused(settings: Settings, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    embedder = HashEmbedder()
    first = build_context_index(SET, settings, embedder, cache, progress=False)
    assert not first.cached and first.chunks > 2
    assert first.folder.parent == cache and (first.folder / MARKER).is_file()
    assert json.loads((first.folder / MARKER).read_text())["chunks"] == first.chunks
    assert first.vectors.count() == first.chunks
    hit = first.keywords.search("Normans Normandy", 1, audience=PUBLIC)[0]
    assert hit.chunk.source == SHORT.id
    calls = embedder.calls
    first.keywords.close()

    again = build_context_index(SET, settings, embedder, cache, progress=False)
    assert again.cached and again.folder == first.folder and embedder.calls == calls
    assert again.vectors.count() == first.chunks

    changed = EvalSet("tiny", (), (SHORT, Context("x/1", "X", "Something else.")))
    other = build_context_index(changed, settings, embedder, cache, progress=False)
    assert not other.cached and other.folder != first.folder


@pytest.mark.real
def test_a_build_without_its_marker_is_redone(settings: Settings, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    embedder = HashEmbedder()
    first = build_context_index(SET, settings, embedder, cache, progress=False)
    first.keywords.close()
    (first.folder / MARKER).unlink()  # as if the run died before finishing
    calls = embedder.calls
    again = build_context_index(SET, settings, embedder, cache, progress=False)
    assert not again.cached and embedder.calls > calls
    assert again.vectors.count() == first.chunks


@pytest.mark.real
def test_corpus_index_uses_the_ingestor_and_is_cached(
    settings: Settings, corpus_dir: Path, tmp_path: Path
) -> None:
    (corpus_dir / "policy.md").write_text(
        "# Policy\n\nIncidents must be reported within 24 hours.\n", encoding="utf-8"
    )
    (corpus_dir / "faq.txt").write_text("The Sandbox launched in August 2024.\n", encoding="utf-8")
    cache = tmp_path / "cache"
    embedder = HashEmbedder()
    first = build_corpus_index(corpus_dir, settings, embedder, cache)
    assert not first.cached and first.chunks == 2
    assert {
        h.chunk.source for h in first.keywords.search("incidents sandbox", 5, audience=PUBLIC)
    } == {
        "policy.md",
        "faq.txt",
    }
    first.keywords.close()
    calls = embedder.calls
    again = build_corpus_index(corpus_dir, settings, embedder, cache)
    assert again.cached and embedder.calls == calls

    (corpus_dir / "faq.txt").write_text("The Sandbox launched in 2024.\n", encoding="utf-8")
    changed = build_corpus_index(corpus_dir, settings, embedder, cache)
    assert not changed.cached and changed.folder != first.folder


@pytest.mark.real  # Chroma on disk
def test_a_cache_from_before_access_groups_is_labelled_not_rebuilt(
    settings: Settings, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    embedder = HashEmbedder()
    first = build_context_index(SET, settings, embedder, cache, progress=False)
    (first.folder / "calibration.json").write_text("{}")  # what a rebuild would lose
    ids = [c for s in first.keywords.sources() for c in first.keywords.ids_for_source(s)]
    first.keywords.relabel(ids, [])  # as a schema-2 cache opens: no group anywhere
    first.vectors.relabel(ids, [])
    assert first.keywords.search("Normans Normandy", 1, audience=PUBLIC) == []
    calls = embedder.calls
    first.keywords.close()

    again = build_context_index(SET, settings, embedder, cache, progress=False)
    assert again.cached and embedder.calls == calls  # nothing re-embedded
    assert (again.folder / "calibration.json").is_file()
    hit = again.keywords.search("Normans Normandy", 1, audience=PUBLIC)[0]
    assert hit.chunk.source == SHORT.id and hit.chunk.groups == ("everyone",)
    vector = embedder.embed([SHORT.text])[0]
    assert again.vectors.query(vector, 1, audience=PUBLIC)[0].chunk.source == SHORT.id
