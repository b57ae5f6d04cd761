from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.text import terms
from ingest.chunking import Chunker, chunk_id
from ingest.loaders import Block, LoadedDocument, load_document
from tests.fakes import HashEmbedder
from tests.samples import POLICY_PAGE_1, POLICY_PAGE_2, write_pdf

TOKENS = HashEmbedder().token_length


def doc_of(*blocks: Block, source: str = "doc.md", title: str = "Doc") -> LoadedDocument:
    return LoadedDocument(source=source, title=title, file_hash="f" * 64, blocks=blocks)


def long_english(sentences: int) -> str:
    return " ".join(
        f"Sentence {i} explains how the bank calculates interest on deposit account {i}."
        for i in range(sentences)
    )


def test_chunks_respect_the_token_limit() -> None:
    chunker = Chunker(TOKENS, chunk_tokens=40, chunk_overlap=8)
    chunks = chunker.chunk(doc_of(Block(text=long_english(60))))
    assert len(chunks) > 5
    assert all(TOKENS(c.text) <= 40 for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_neighbouring_chunks_overlap() -> None:
    chunker = Chunker(TOKENS, chunk_tokens=40, chunk_overlap=10)
    first, second, *_ = chunker.chunk(doc_of(Block(text=long_english(30))))
    assert set(terms(first.text)[-5:]) & set(terms(second.text))


def test_a_single_unbreakable_run_is_still_cut() -> None:
    chunker = Chunker(len, chunk_tokens=50, chunk_overlap=0)
    chunks = chunker.chunk(doc_of(Block(text="x" * 400)))
    assert all(len(c.text) <= 50 for c in chunks)
    assert "".join(c.text for c in chunks) == "x" * 400


def test_chunks_never_span_pages_and_keep_page_and_section(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "policy.pdf", [POLICY_PAGE_1, POLICY_PAGE_2], title="DPS")
    doc = load_document(path, "policies/policy.pdf", max_file_mb=5)
    chunks = Chunker(TOKENS, chunk_tokens=20, chunk_overlap=0).chunk(doc)
    assert {c.page for c in chunks} == {1, 2}
    for chunk in chunks:
        page_text = doc.blocks[chunk.page - 1].text  # type: ignore[operator]
        assert chunk.text in page_text
        assert chunk.source == "policies/policy.pdf"
        assert chunk.title == "DPS"
        assert chunk.file_hash == doc.file_hash
    by_text = {c.text.split("\n")[0]: c for c in chunks}
    assert by_text["1. Deposit Protection"].section == "1. Deposit Protection"
    assert by_text["3. Exclusions"].section == "3. Exclusions"
    first_on_page_2 = min((c for c in chunks if c.page == 2), key=lambda c: c.position)
    assert first_on_page_2.section == "3. Exclusions"
    claims = [c for c in chunks if "automatically" in c.text]
    assert claims and claims[0].section == "4. Claims"


def test_ids_are_stable_and_content_addressed() -> None:
    blocks = (Block(text=long_english(20), section="A"), Block(text="Short tail.", section="B"))
    chunker = Chunker(TOKENS, chunk_tokens=30, chunk_overlap=5)
    run1 = chunker.chunk(doc_of(*blocks))
    run2 = Chunker(TOKENS, chunk_tokens=30, chunk_overlap=5).chunk(doc_of(*blocks))
    assert [c.id for c in run1] == [c.id for c in run2]
    assert len({c.id for c in run1}) == len(run1)
    c = run1[0]
    assert c.id == chunk_id(c.source, c.position, c.content_hash)
    other_source = chunker.chunk(doc_of(*blocks, source="other.md"))
    assert not {x.id for x in run1} & {x.id for x in other_source}


def test_chinese_text_splits_at_sentence_punctuation() -> None:
    sentence = "存款保障計劃保障每名存款人在每家成員銀行最高八十萬港元的合資格存款。"
    text = sentence * 12
    chunker = Chunker(TOKENS, chunk_tokens=60, chunk_overlap=0)
    chunks = chunker.chunk(doc_of(Block(text=text)))
    assert len(chunks) > 1
    assert all(TOKENS(c.text) <= 60 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)
    assert all(c.language == "zh" for c in chunks)


def test_chinese_full_width_punctuation_after_normalisation(tmp_path: Path) -> None:
    # NFKC (done by the loaders) turns ！？；， into ASCII forms with no space.
    path = tmp_path / "zh.txt"
    path.write_text("銀行會通知客戶嗎？會，並且會在七日內以書面通知客戶！" * 10, encoding="utf-8")
    doc = load_document(path, "zh.txt", max_file_mb=1)
    assert "？" not in doc.blocks[0].text and "?" in doc.blocks[0].text
    chunks = Chunker(TOKENS, chunk_tokens=30, chunk_overlap=0).chunk(doc)
    assert len(chunks) > 1
    assert all(c.text[-1] in "?!" for c in chunks)


def test_language_detected_per_chunk() -> None:
    chunker = Chunker(TOKENS, chunk_tokens=200, chunk_overlap=0)
    chunks = chunker.chunk(
        doc_of(Block(text="Deposit insurance basics."), Block(text="存款保障的基本資料。"))
    )
    assert [c.language for c in chunks] == ["en", "zh"]


def test_blocks_without_terms_make_no_chunks() -> None:
    chunker = Chunker(TOKENS, chunk_tokens=50, chunk_overlap=0)
    chunks = chunker.chunk(doc_of(Block(text="— · —"), Block(text="Real text here.")))
    assert [c.text for c in chunks] == ["Real text here."]
    assert chunks[0].position == 0


def test_signature_changes_with_parameters() -> None:
    assert (
        Chunker(TOKENS, 100, 10).signature() != Chunker(TOKENS, 120, 10).signature()
        and Chunker(TOKENS, 100, 10).signature() == Chunker(TOKENS, 100, 10).signature()
    )


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_parameters_are_rejected(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        Chunker(TOKENS, size, overlap)
