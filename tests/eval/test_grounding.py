from __future__ import annotations

from chatbot.domain import Answer, Chunk, Passage
from eval.grounding import (
    answer_sentences,
    check_answer,
    check_pipeline_answer,
    content_words,
    grounding_summary,
    marker_numbers,
    numbers,
)
from eval.metrics import Rate

LAUNCH = (
    "The Hong Kong Monetary Authority (HKMA) and Cyberport launched the GenA.I. Sandbox "
    "in August 2024."
)
COHORT = "The first cohort brought together 15 use cases from 10 banks."
ZH = "首批沙盒共有15個用例，來自10家銀行。"


def test_sentences_keep_markers_and_abbreviations() -> None:
    text = (
        "They launched the GenA.I. Sandbox in 2024 [1]. "
        "It had 15 use cases, e.g. fraud. [2] 完成。[1]"
    )
    assert answer_sentences(text) == [
        "They launched the GenA.I. Sandbox in 2024 [1].",
        "It had 15 use cases, e.g. fraud. [2]",
        "完成。[1]",
    ]
    assert answer_sentences("Growth was 2.5 per cent [1].") == ["Growth was 2.5 per cent [1]."]


def test_markers_numbers_and_words() -> None:
    assert marker_numbers("a [2] b [1, 2] c [3，1]") == (2, 1, 3)
    assert numbers("1,000 banks on 28 April 2025, 2.5%") == {"1000", "28", "2025", "2.5"}
    assert content_words("The banks launched it") == {"bank", "launch"}
    assert "用例" in content_words(ZH)


def test_supported_answer_is_grounded() -> None:
    result = check_answer(
        "The HKMA and Cyberport launched the Sandbox in August 2024 [1]. "
        "The first cohort had 15 use cases from 10 banks [2].",
        {1: LAUNCH, 2: COHORT},
    )
    assert result.grounded
    assert result.supported_sentences == 2


def test_number_missing_from_cited_passage_fails() -> None:
    result = check_answer("The first cohort had 16 use cases [2].", {2: COHORT})
    assert not result.grounded
    assert result.sentences[0].missing_numbers == ("16",)


def test_wrong_citation_fails_even_if_another_passage_supports_it() -> None:
    result = check_answer(
        "The first cohort had 15 use cases from 10 banks [1].", {1: LAUNCH, 2: COHORT}
    )
    assert not result.grounded


def test_low_content_share_fails() -> None:
    # of regulator/wide/prais/sandbox/launch/result only sandbox and launch are there: 2/6
    result = check_answer("Regulators widely praised the Sandbox launch results [1].", {1: LAUNCH})
    check = result.sentences[0]
    assert check.content_share == 2 / 6
    assert not check.supported


def test_uncited_sentence_borrows_next_marker_unless_strict() -> None:
    text = "The first cohort had 15 use cases. They were from 10 banks [2]."
    assert check_answer(text, {2: COHORT}).grounded
    strict = check_answer(text, {2: COHORT}, strict=True)
    assert strict.supported_sentences == 1
    assert not strict.grounded


def test_marker_outside_given_passages_fails() -> None:
    assert not check_answer("The first cohort had 15 use cases [3].", {2: COHORT}).grounded


def test_answer_without_any_marker_is_not_grounded() -> None:
    assert not check_answer("The first cohort had 15 use cases.", {1: COHORT}).grounded
    assert not check_answer("", {1: COHORT}).grounded


def test_chinese_answer() -> None:
    assert check_answer("首批沙盒共有15個用例 [1]。", {1: ZH}).grounded
    assert not check_answer("首批沙盒共有20個用例 [1]。", {1: ZH}).grounded


def _passage(text: str) -> Passage:
    chunk = Chunk(
        id=f"c-{len(text)}",
        text=text,
        source="overview.pdf",
        title="Overview",
        page=2,
        section="",
        language="en",
        content_hash="h",
        file_hash="f",
        position=0,
    )
    return Passage(chunk=chunk, fused_score=0.1)


def test_pipeline_answer_markers_number_the_shown_passages() -> None:
    answer = Answer(
        text="The first cohort had 15 use cases from 10 banks [2].",
        citations=(),
        passages=(_passage(LAUNCH), _passage(COHORT)),
        model="scripted",
    )
    assert check_pipeline_answer(answer).grounded


def test_summary_rates() -> None:
    good = check_answer("The first cohort had 15 use cases [1].", {1: COHORT})
    half = check_answer("The first cohort had 15 use cases [1]. It had 99 banks [1].", {1: COHORT})
    summary = grounding_summary([good, half])
    assert summary.answers_grounded == Rate(1, 2)
    assert summary.sentences_supported == Rate(2, 3)
