"""The HKMA period question set (eval/datasets/hkma.jsonl) stays true to the
shared HKMA reports, and the period metrics count what they say."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from eval.items import UNCOVERED_PERIOD
from eval.loaders import HKMA_CORPUS, HKMA_SET_PATH, load_jsonl
from eval.metrics import contains_gold
from eval.summary import period_section

ITEMS = load_jsonl(HKMA_SET_PATH).items
YEARS = {str(y) for y in range(2015, 2025)}


def test_size_languages_and_categories() -> None:
    assert len(ITEMS) >= 80 and len({i.id for i in ITEMS}) == len(ITEMS)
    languages = Counter(i.language for i in ITEMS)
    assert languages["zh"] >= 20 and languages["en"] >= 40
    categories = Counter(i.category for i in ITEMS)
    assert categories["changing_figure"] >= 30 and categories[UNCOVERED_PERIOD] >= 12
    naming_a_year = [i for i in ITEMS if re.search(r"(?:19|20)\d{2}", i.question)]
    assert len(naming_a_year) >= 0.9 * len(ITEMS)


def test_periods_and_answers_are_consistent() -> None:
    for item in ITEMS:
        if item.category == UNCOVERED_PERIOD:
            assert not item.answerable and item.period not in YEARS, item.id
            continue
        assert item.answerable and item.answers, item.id
        if item.period:
            assert item.period in item.question and item.period in YEARS, item.id
            assert all(s.startswith(f"{item.period}/") for s in item.gold_sources), item.id
        assert not set(item.answers) & set(item.other_period_answers), item.id


@pytest.mark.skipif(not HKMA_CORPUS.is_dir(), reason="shared HKMA reports not present")
@pytest.mark.parametrize("item", [i for i in ITEMS if i.answerable], ids=lambda i: i.id)
def test_gold_answers_occur_in_their_source(item: Any) -> None:
    texts = [(HKMA_CORPUS / s).read_text(encoding="utf-8") for s in item.gold_sources]
    assert any(answer in text for answer in item.answers for text in texts), item.id


def test_glued_figures_in_chinese_prose_are_matched_whole() -> None:
    assert contains_gold("香港經濟在2020年收縮6.1%，是連續第二年收縮。", ["6.1%"])
    assert not contains_gold("貸款增長16.1%。", ["6.1%"])
    assert not contains_gold("It grew 16.1%.", ["6.1%"])


def record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "category": "changing_figure",
        "answerable": True,
        "period": "2024",
        "outcome": "answer",
        "llm_called": True,
        "cited_periods": ["2024"],
        "other_period_answers": ["1.56%"],
        "scores": {"contains_gold": True, "contains_other_period": False},
    }
    base.update(fields)
    return base


def test_period_section_counts() -> None:
    records = [
        record(),
        record(cited_periods=["2023"]),  # right figure, wrong year's citation
        record(  # the mix-up: 2023's figure, from the 2023 passage, asked about 2024
            answer="The ratio was 1.56% [1].",
            citations=[[1, "2023/b.md", None]],
            passages=[{"period": "2023", "text": "The ratio was 1.56%."}],
            scores={"contains_gold": False, "contains_other_period": True},
        ),
        record(  # a comparison the asked year's own passage makes: not a mix-up
            answer="It rose to 1.96% from 1.56% [1].",
            citations=[[1, "2024/b.md", None]],
            passages=[{"period": "2024", "text": "The ratio rose to 1.96% from 1.56%."}],
            scores={"contains_gold": True, "contains_other_period": True},
        ),
        record(category=UNCOVERED_PERIOD, answerable=False, outcome="refusal", llm_called=False),
        record(category=UNCOVERED_PERIOD, answerable=False, outcome="refusal"),
    ]
    section = period_section(records)
    assert section is not None
    assert section["dated_answerable"] == 4
    assert section["correct_right_period"]["successes"] == 2
    assert section["correct_any_citation"]["successes"] == 3
    assert section["other_period_figure_only"] == 1
    assert section["other_period_figure_with_asked"] == 1
    assert section["other_period_figure_unexplained"] == 1  # only the one without the asked
    assert section["uncovered_refused_before_llm"]["successes"] == 1
    assert section["uncovered_refused"]["successes"] == 2
    assert period_section([record(period="", other_period_answers=[])]) is None


def test_curly_quotes_do_not_hide_a_gold_answer() -> None:
    assert contains_gold("The HKMA renamed “Virtual Bank” to “Digital Bank” [1].", ["Digital Bank"])
