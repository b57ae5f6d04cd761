"""The own question set must stay true to the sample corpus it is about."""

from __future__ import annotations

import functools
import re
from collections import Counter
from pathlib import Path

import pytest
from pypdf import PdfReader

from chatbot.text import is_cjk
from eval.items import ANSWERABLE, BOUNDARY_PUSH, OFF_TOPIC, UNANSWERABLE, EvalItem
from eval.loaders import REPO_ROOT, load_own_set

CORPUS = REPO_ROOT / "corpus"
CATEGORIES = {ANSWERABLE, UNANSWERABLE, OFF_TOPIC, BOUNDARY_PUSH}
ITEMS = load_own_set().items


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@functools.cache
def _pdf_pages(path: Path) -> tuple[str, ...]:
    return tuple(_flat(page.extract_text()) for page in PdfReader(path).pages)


@functools.cache
def _text(path: Path) -> str:
    return _flat(path.read_text(encoding="utf-8"))


def test_size_languages_and_categories() -> None:
    assert len(ITEMS) >= 70
    assert len({i.id for i in ITEMS}) == len(ITEMS)
    by_language = Counter(i.language for i in ITEMS)
    assert by_language["zh"] >= 20
    assert set(by_language) <= {"en", "zh"}
    categories = Counter(i.category for i in ITEMS)
    assert set(categories) == CATEGORIES
    zh_categories = {i.category for i in ITEMS if i.language == "zh"}
    assert zh_categories == CATEGORIES


def test_category_matches_answerability() -> None:
    for item in ITEMS:
        assert item.answerable == (item.category == ANSWERABLE), item.id
        if item.answerable:
            assert item.answers and item.gold_sources, item.id
        else:
            assert not item.answers and not item.gold_sources, item.id


def test_chinese_items_are_written_in_chinese() -> None:
    for item in ITEMS:
        assert is_cjk(item.question) == (item.language == "zh"), item.id


@pytest.mark.parametrize("item", [i for i in ITEMS if i.answerable], ids=lambda i: i.id)
def test_gold_answers_occur_in_gold_source_and_page(item: EvalItem) -> None:
    for source, page in item.gold_locations():
        path = CORPUS / source
        assert path.is_file(), f"{item.id}: no corpus file {source}"
        if path.suffix == ".pdf":
            pages = _pdf_pages(path)
            assert page is not None, f"{item.id}: a PDF source needs a gold page"
            assert 1 <= page <= len(pages), f"{item.id}: {source} has no page {page}"
            text = pages[page - 1]
        else:
            assert page is None, f"{item.id}: {source} has no pages"
            text = _text(path)
        for answer in item.answers:
            assert _flat(answer) in text, f"{item.id}: {answer!r} not in {source} p.{page}"
