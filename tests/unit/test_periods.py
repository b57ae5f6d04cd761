"""Periods and versions in questions and passages (chatbot.answer.periods)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from chatbot.answer.periods import (
    asked_version,
    asked_years,
    describe_coverage,
    in_force,
    period_years,
    prefer_periods,
    stated_figures,
    uncovered_years,
)
from chatbot.domain import DocumentContext, Passage
from tests.builders import make_chunk


def passage(i: int, text: str, **context: str) -> Passage:
    chunk = replace(make_chunk(i, f"doc{i}.md", None, text), context=DocumentContext(**context))
    return Passage(chunk, 1.0 / (i + 1))


def test_asked_years_and_versions() -> None:
    assert asked_years("What was the CCyB in 2018 and in 2019?") == ("2018", "2019")
    assert asked_years("2018年底的比率是多少？") == ("2018",)
    assert asked_years("HK$2,018 million or 120245 or 3.2019") == ()
    assert asked_years("Results for FY2023") == ("2023",)
    assert asked_years("二〇一八年底的比率是多少？") == ("2018",)
    assert asked_years("二零二四年與2023年") == ("2023", "2024")
    assert asked_years("一二三四年") == ()  # not a year we can mean
    assert asked_version("What did version 2 of the policy say?") == "2"
    assert asked_version("In v1.1, what was the limit?") == "1.1"
    assert asked_version("第3版的規定是甚麼？") == "3"
    assert asked_version("What is the limit?") is None


def test_period_years_and_stated_figures() -> None:
    assert period_years("2024-Q3") == {"2024"}
    assert period_years("2023/24") == {"2023", "2024"}
    assert period_years("") == frozenset()
    assert stated_figures(DocumentContext(period="2024", version="3")) == {"2024", "3"}


def test_prefer_periods_moves_the_asked_year_first_and_keeps_order() -> None:
    ps = [
        passage(0, "a", period="2023"),
        passage(1, "b", period="2024"),
        passage(2, "c"),
        passage(3, "d", period="2024"),
    ]
    assert [p.id for p in prefer_periods(ps, ["2024"])] == ["c1", "c3", "c0", "c2"]
    assert [p.id for p in prefer_periods(ps, ["2010"])] == ["c0", "c1", "c2", "c3"]
    assert [p.id for p in prefer_periods(ps, [])] == ["c0", "c1", "c2", "c3"]


def asked(question: str) -> tuple[tuple[str, ...], str | None]:
    return asked_years(question), asked_version(question)


def versions() -> list[Passage]:
    return [
        passage(
            0, "The limit is HK$1 million.", edition="Credit", version="1", effective="2020-01-01"
        ),
        passage(
            1, "The limit is HK$2 million.", edition="Credit", version="2", effective="2024-01-01"
        ),
        passage(
            2, "The limit is HK$3 million.", edition="Credit", version="3", effective="2099-01-01"
        ),
        passage(3, "Unversioned text."),
    ]


def test_in_force_keeps_the_newest_effective_version() -> None:
    kept, superseded = in_force(versions(), *asked("What is the limit?"), lambda: date(2025, 6, 1))
    assert [p.id for p in kept] == ["c1", "c3"]
    assert [p.id for p in superseded] == ["c0", "c2"]


def test_in_force_answers_a_question_about_an_older_version_from_it() -> None:
    kept, _ = in_force(
        versions(), *asked("What was the limit in version 1?"), lambda: date(2025, 6, 1)
    )
    assert [p.id for p in kept] == ["c0", "c3"]
    kept, _ = in_force(versions(), *asked("What was the limit in 2020?"), lambda: date(2025, 6, 1))
    assert [p.id for p in kept] == ["c0", "c3"]


def test_one_version_alone_is_kept() -> None:
    only = [versions()[0], versions()[3]]
    kept, superseded = in_force(only, *asked("What is the limit?"), lambda: date(2025, 6, 1))
    assert len(kept) == 2 and superseded == []


def test_uncovered_years_and_coverage() -> None:
    covered = {"2015", "2016", "2017", "2019"}
    shown = [passage(0, "Loans grew 12.7% in 2014.", period="2015")]
    assert uncovered_years(asked_years("What was GDP growth in 2012?"), covered, shown) == ("2012",)
    assert uncovered_years(asked_years("What was loan growth in 2014?"), covered, shown) == ()
    assert uncovered_years(asked_years("What happened in 2016?"), covered, []) == ()
    assert uncovered_years(asked_years("What happened in 2012?"), set(), []) == ()  # undated corpus
    assert describe_coverage(covered) == "2015–2017, 2019"
