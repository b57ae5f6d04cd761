from __future__ import annotations

import pytest

from chatbot.answer.quote import quote_weak_sentences
from chatbot.answer.verify import (
    cited_numbers,
    is_model_refusal,
    verify,
)
from chatbot.domain import Chunk, Passage, RefusalReason
from chatbot.text import answer_sentences


def passage(text: str, page: int = 1, section: str = "") -> Passage:
    chunk = Chunk(
        id=f"id-{abs(hash(text))}",
        text=text,
        source="doc.pdf",
        title="Doc",
        page=page,
        section=section,
        language="en",
        content_hash="h",
        file_hash="f",
        position=0,
    )
    return Passage(chunk=chunk, fused_score=0.1, dense_score=0.6, keyword_score=3.0)


P1 = passage("The HKMA and Cyberport launched the GenA.I. Sandbox in August 2024.", 1)
P2 = passage("The first cohort had 15 use cases from 10 banks and 4 technology partners.", 2)


def test_cited_numbers_handles_groups_and_repeats() -> None:
    assert cited_numbers("A [1]. B [2, 3]. C [1][2]. D [4，5]") == [1, 2, 3, 1, 2, 4, 5]


def test_split_sentences_keeps_trailing_markers() -> None:
    parts = answer_sentences("It launched in 2024. [1] It had 15 use cases [2]. 完成。[1]")
    assert parts == ["It launched in 2024. [1]", "It had 15 use cases [2].", "完成。[1]"]


def test_supported_answer_passes_with_resolved_citations() -> None:
    verdict = verify(
        "The Sandbox was launched by the HKMA and Cyberport in August 2024 [1]. "
        "The first cohort had 15 use cases from 10 banks [2].",
        [P1, P2],
        0.5,
    )
    assert verdict.failure is None
    assert [(c.number, c.page) for c in verdict.citations] == [(1, 1), (2, 2)]


def test_model_refusal_sentence_is_a_decline() -> None:
    text = "I cannot answer this from the provided documents."
    assert is_model_refusal(text)
    assert verify(text, [P1], 0.5).failure is RefusalReason.MODEL_DECLINED
    assert verify("我無法根據所提供的文件回答這個問題。", [P1], 0.5).failure is (
        RefusalReason.MODEL_DECLINED
    )


def test_citation_outside_given_passages_is_refused() -> None:
    verdict = verify("It launched in August 2024 [3].", [P1, P2], 0.5)
    assert verdict.failure is RefusalReason.NO_VALID_CITATION
    assert "[3]" in verdict.detail


def test_uncited_answer_no_passage_backs_is_refused() -> None:
    verdict = verify("Quarterly dividends rose sharply across Asian lenders.", [P1, P2], 0.5)
    assert verdict.failure is RefusalReason.NO_VALID_CITATION
    # half the words in a passage is enough for a cited sentence, not for an uncited one
    half = verify("The Sandbox launched with great fanfare downtown.", [P1, P2], 0.5)
    assert half.failure is RefusalReason.NO_VALID_CITATION


def test_uncited_answer_copied_from_a_passage_is_cited_for_it() -> None:
    verdict = verify(
        "The first cohort had 15 use cases from 10 banks. It was launched in August 2024.",
        [P1, P2],
        0.5,
        "What did the first cohort have?",
    )
    assert verdict.failure is None, verdict.detail
    assert verdict.text == (
        "The first cohort had 15 use cases from 10 banks. [2] It was launched in August 2024. [1]"
    )
    assert [c.number for c in verdict.citations] == [2, 1]
    assert verdict.reattributed == 2 and "citations added" in verdict.detail


def test_uncited_answer_keeps_only_what_a_passage_backs() -> None:
    verdict = verify(
        "The first cohort had 15 use cases from 10 banks. It cost 300 million dollars.",
        [P1, P2],
        0.5,
        "What did the first cohort have?",
    )
    assert verdict.failure is None and verdict.dropped == 1
    assert verdict.text == "The first cohort had 15 use cases from 10 banks. [2]"


def test_sentence_not_backed_by_its_citation_is_unsupported() -> None:
    verdict = verify("Quarterly dividends rose sharply across Asian lenders [1].", [P1, P2], 0.5)
    assert verdict.failure is RefusalReason.UNSUPPORTED


def test_number_absent_from_cited_passage_is_unsupported() -> None:
    verdict = verify("The first cohort had 25 use cases from 10 banks [2].", [P1, P2], 0.5)
    assert verdict.failure is RefusalReason.UNSUPPORTED
    assert "25" in verdict.detail


def test_claim_cited_to_the_wrong_passage_is_re_pointed_to_the_one_that_holds_it() -> None:
    # True in P2, but cited to P1: the citation must end up pointing at the claim.
    verdict = verify("The first cohort had 15 use cases from 10 banks [1].", [P1, P2], 0.5)
    assert verdict.failure is None and verdict.reattributed == 1
    assert verdict.text == "The first cohort had 15 use cases from 10 banks. [2]"
    assert [(c.number, c.page) for c in verdict.citations] == [(2, 2)]


def test_claim_no_given_passage_holds_stays_unsupported() -> None:
    verdict = verify("The first cohort had 25 use cases from 10 banks [1].", [P1, P2], 0.5)
    assert verdict.failure is RefusalReason.UNSUPPORTED


def test_uncited_sentence_borrows_the_next_citation() -> None:
    verdict = verify(
        "The first cohort had 15 use cases. They came from 10 banks [2].", [P1, P2], 0.5
    )
    assert verdict.failure is None


@pytest.mark.parametrize("text", ["", "   ", "[1]", "答案：[1]"])
def test_empty_answer_is_a_decline(text: str) -> None:
    assert verify(text, [P1], 0.5).failure is RefusalReason.MODEL_DECLINED


def test_abbreviations_and_decimals_do_not_answer_sentences() -> None:
    assert answer_sentences("The GenA.I. Sandbox grew 3.5 times [1]. It ended. [2]") == [
        "The GenA.I. Sandbox grew 3.5 times [1].",
        "It ended. [2]",
    ]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("首批參與沙盒的10家銀行是哪幾家？", "首批參與沙盒的10家銀行是[1]。"),
        ("Who were the 4 technology partners?", "The 4 technology partners were [1], [2]."),
    ],
)
def test_answer_that_only_restates_the_question_is_a_decline(question: str, answer: str) -> None:
    verdict = verify(answer, [P1, P2], 0.5, question)
    assert verdict.failure is RefusalReason.MODEL_DECLINED
    assert "restates" in verdict.detail


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        # one-digit counts are not content terms; the figure is the answer
        (
            "How many technology partners supported the first cohort?",
            "4 technology partners supported the first cohort [2].",
        ),
        ("How many banks took part?", "10 banks took part [2]."),
    ],
)
def test_answer_adding_only_a_figure_is_not_a_restatement(question: str, answer: str) -> None:
    verdict = verify(answer, [P1, P2], 0.5, question)
    assert verdict.failure is None, verdict.detail
    assert [c.number for c in verdict.citations] == [2]


def test_unsupported_sentence_is_dropped_when_the_rest_answers_the_question() -> None:
    verdict = verify(
        "The HKMA and Cyberport launched the Sandbox in August 2024 [1]. "
        "It was funded with 300 million dollars [1].",
        [P1, P2],
        0.5,
        "When was the GenA.I. Sandbox launched?",
    )
    assert verdict.failure is None and verdict.dropped == 1
    assert verdict.text == "The HKMA and Cyberport launched the Sandbox in August 2024 [1]."
    assert [c.number for c in verdict.citations] == [1]
    assert "dropped 1 of 2 sentences" in verdict.detail and "300" in verdict.detail


def test_uncited_sentence_keeps_the_markers_of_the_dropped_sentence_it_borrowed() -> None:
    verdict = verify(
        "The first cohort had 15 use cases. Each bank paid 300 dollars to join [2].",
        [P1, P2],
        0.5,
        "How many use cases were in the first cohort?",
    )
    assert verdict.failure is None and verdict.dropped == 1
    assert verdict.text == "The first cohort had 15 use cases. [2]"
    assert [c.number for c in verdict.citations] == [2]


def test_answer_is_refused_when_what_remains_does_not_touch_the_question() -> None:
    verdict = verify(
        "The HKMA and Cyberport launched it in August 2024 [1]. "
        "It was funded with 300 million dollars [1].",
        [P1, P2],
        0.5,
        "How much funding did the Sandbox receive?",
    )
    assert verdict.failure is RefusalReason.UNSUPPORTED and verdict.dropped == 0
    assert "300" in verdict.detail and "no term with the question" in verdict.detail


def test_answer_is_refused_when_what_remains_only_restates_the_question() -> None:
    verdict = verify(
        "The HKMA and Cyberport launched the Sandbox [1]. It launched in March 2023 [1].",
        [P1, P2],
        0.5,
        "When did the HKMA and Cyberport launch the Sandbox?",
    )
    assert verdict.failure is RefusalReason.UNSUPPORTED
    assert "2023" in verdict.detail and "restate" in verdict.detail


def test_without_a_question_an_unsupported_sentence_still_refuses_the_answer() -> None:
    verdict = verify(
        "The HKMA and Cyberport launched the Sandbox in August 2024 [1]. "
        "It was funded with 300 million dollars [1].",
        [P1, P2],
        0.5,
    )
    assert verdict.failure is RefusalReason.UNSUPPORTED


def test_chinese_unsupported_sentence_is_dropped() -> None:
    zh = passage("金管局與數碼港於2024年8月推出生成式人工智能沙盒。")
    verdict = verify(
        "金管局與數碼港於2024年8月推出沙盒[1]。沙盒預算為三億元[1]。",
        [zh],
        0.5,
        "沙盒何時推出？",
    )
    assert verdict.failure is None and verdict.dropped == 1
    assert verdict.text == "金管局與數碼港於2024年8月推出沙盒[1]。"


def test_simplified_characters_in_a_chinese_answer_are_supported_by_a_traditional_passage() -> None:
    zh = Passage(
        chunk=Chunk(
            id="zh-1",
            text="杜拜的酋長於1820年1月8日與英國簽訂了基礎和約。",
            source="doc.md",
            title="Doc",
            page=None,
            section="",
            language="zh",
            content_hash="h",
            file_hash="f",
            position=0,
        ),
        fused_score=0.1,
        dense_score=0.6,
        keyword_score=3.0,
    )
    verdict = verify(
        "杜拜的酋長与英国在1820年1月8日簽訂了基礎和約。[1]",
        [zh],
        0.5,
        "杜拜的酋長曾於1820年1月8日時與哪一個國家簽訂了基礎和約?",
    )
    assert verdict.failure is None, verdict.detail
    wrong = verify("杜拜的酋長与法国签订了和约。[1]", [zh], 0.9, "杜拜與哪國簽訂和約?")
    assert wrong.failure is RefusalReason.UNSUPPORTED


@pytest.mark.parametrize(
    "question",
    [
        "Since 20 banks took part in the first cohort, which were they?",
        "How many use cases did the 2023 cohort have?",
    ],
)
def test_answer_resting_on_a_figure_the_cited_passages_lack_is_unsupported(question: str) -> None:
    answer = "The first cohort had 15 use cases from 10 banks [2]."
    verdict = verify(answer, [P1, P2], 0.5, question)
    assert verdict.failure is RefusalReason.UNSUPPORTED
    assert "premise" in verdict.detail


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (
            "How many use cases are in the second cohort of the Sandbox?",
            "There are 15 use cases in the second cohort of the Sandbox [2].",
        ),
        ("第二期沙盒共有多少個用例？", "首批沙盒共有15個用例，來自10家銀行。[1]"),
    ],
)
def test_answer_about_another_cohort_than_the_question_names_is_unsupported(
    question: str, answer: str
) -> None:
    # The passages speak of the first cohort only; "second" / 第二 is a
    # qualifier the answer would silently drop.
    zh = passage("首批沙盒共有15個用例，來自10家銀行。")
    verdict = verify(answer, [zh, P2], 0.5, question)
    assert verdict.failure is RefusalReason.UNSUPPORTED
    assert "ordinals" in verdict.detail


def test_ordinal_stated_in_the_cited_passage_or_its_section_heading_passes() -> None:
    question = "與第二期同日公布的工作坊以甚麼為主題？"
    answer = "工作坊以人工智能對抗深偽詐騙為主題。[1]"
    body = "同日公布的還有一系列以人工智能對抗深偽詐騙為主題的工作坊。"
    under_heading = passage(body, section="五、第二期沙盒")
    assert verify(answer, [under_heading], 0.5, question).failure is None
    in_text = passage("第二期沙盒公布。" + body)
    assert verify(answer, [in_text], 0.5, question).failure is None
    elsewhere = passage(body, section="四、首批沙盒")
    assert verify(answer, [elsewhere], 0.5, question).failure is RefusalReason.UNSUPPORTED


def test_question_figures_found_in_a_cited_passage_pass() -> None:
    verdict = verify(
        "The first cohort had 15 use cases from 10 banks [2].",
        [P1, P2],
        0.5,
        "Which cohort had 10 banks and 15 use cases?",
    )
    assert verdict.failure is None, verdict.detail
    # a figure only in a passage the answer does not cite is not enough
    uncited = verify(
        "The first cohort had 15 use cases from 10 banks [2].",
        [P1, P2],
        0.5,
        "What did the cohort launched in 2024 have?",
    )
    assert uncited.failure is RefusalReason.UNSUPPORTED


# --- showing loosely backed sentences in the passage's own words -----------

TURING = passage(
    "Many machine models were proposed.\n\nMost influential among these was the "
    "definition of Turing machines by Alan Turing in 1936. Later work refined it.",
    3,
)


def test_sentence_restating_the_question_is_shown_as_the_passage_sentence() -> None:
    question = "What theoretical device is attributed to Alan Turing?"
    answer = "Alan Turing is attributed to the Turing machine. [1]"
    result = quote_weak_sentences(answer, [TURING], question, "Turing machine")
    assert result.quoted == 1
    assert result.text == (
        "Most influential among these was the definition of Turing machines "
        "by Alan Turing in 1936. [1]"
    )
    assert [c.number for c in result.citations] == [1]
    assert result.citations[0].passage is TURING


def test_closely_backed_answer_is_left_as_the_model_wrote_it() -> None:
    answer = "The first cohort had 15 use cases from 10 banks. [2]"
    result = quote_weak_sentences(answer, [P1, P2], "How many use cases were there?", "15")
    assert result.quoted == 0
    assert result.text == answer
    assert [c.number for c in result.citations] == [2]


def test_quotation_is_cited_to_the_passage_that_holds_it() -> None:
    question = "Which banks took part, and how many technology partners helped?"
    answer = "Ten banks joined, helped by 4 technology partners and the regulator. [1, 2]"
    result = quote_weak_sentences(answer, [P1, P2], question)
    assert result.quoted == 1
    assert result.text == (
        "The first cohort had 15 use cases from 10 banks and 4 technology partners. [2]"
    )
    assert [c.number for c in result.citations] == [2]


def test_no_passage_sentence_holds_the_new_content_so_nothing_is_quoted() -> None:
    # "quantum" is in no passage: quoting would hide that, so the sentence stays
    # as it is and the verifier's own checks (already run) stand.
    answer = "Alan Turing described quantum devices. [1]"
    result = quote_weak_sentences(answer, [TURING], "What did Alan Turing describe?")
    assert result.quoted == 0
    assert result.text == answer


def test_quotation_must_keep_the_figures_the_answer_adds() -> None:
    passage_text = "The scheme began in 2019.\n\nIt was widened to all banks later on."
    p = passage(passage_text)
    answer = "The widening to all banks happened in 2021 [1]."
    result = quote_weak_sentences(answer, [p], "When was the scheme widened to all banks?")
    assert result.quoted == 0


def test_figures_from_the_question_need_not_be_repeated_by_the_quotation() -> None:
    p = passage(
        "1978年世界盃於阿根廷舉行。最終巴西隊以2比1擊敗義大利，獲得季軍。",
    )
    question = "於1978年的比賽中巴西最終獲得什麼名次?"
    answer = "巴西在1978年的比賽中最終獲得的名次是季軍。[1]"
    result = quote_weak_sentences(answer, [p], question, "季軍", below=1.01)
    assert result.quoted == 1
    assert result.text == "最終巴西隊以2比1擊敗義大利，獲得季軍。 [1]"


def test_a_bigram_straddling_a_particle_need_not_be_in_the_quotation() -> None:
    # "巴西在" gives the bigram 西在, which no passage sentence about the result
    # holds ("巴西隊以2比1擊敗義大利"): a word boundary, not a fact to carry.
    p = passage(
        "1978年，巴西在小組賽與阿根廷競爭分組首位。最終巴西隊以2比1擊敗義大利，獲得季軍。",
    )
    question = "於1978年的比賽中巴西最終獲得什麼名次?"
    answer = "巴西在1978年的比賽中最終獲得季軍。[1]"
    result = quote_weak_sentences(answer, [p], question, "季軍")
    assert result.quoted == 1
    assert result.text == "最終巴西隊以2比1擊敗義大利，獲得季軍。 [1]"


def test_sentence_already_inside_the_quotation_is_said_once() -> None:
    p = passage("翠亨村是孫中山的故鄉，現存孫中山故居。翠亨村也被列為中國歷史文化名村。")
    question = "孫中山故居紀念館位於哪裡？"
    answer = (
        "孫中山故居紀念館位於中山市的翠亨村，是孫中山的故鄉。 [1]"
        "翠亨村也被列為中國歷史文化名村。 [1]"
    )
    result = quote_weak_sentences(answer, [p], question, "翠亨村", below=0.9)
    assert result.quoted == 1
    assert result.text.count("歷史文化名村") == 1
    assert result.text.startswith("翠亨村是孫中山的故鄉，現存孫中山故居。 [1]")


def test_a_heading_before_a_blank_line_is_not_quoted_with_the_sentence() -> None:
    p = passage("二、首批參與者\n\n首批沙盒共有15個用例，來自10家銀行。")
    answer = "用例由10家銀行提交並獲得支援。[1]"
    result = quote_weak_sentences(answer, [p], "首批沙盒的用例來自多少家銀行？", "10")
    assert result.quoted == 1
    assert result.text == "首批沙盒共有15個用例，來自10家銀行。 [1]"


def test_sentence_backed_closely_by_another_passage_keeps_its_words_and_moves_its_marker() -> None:
    # Cited to P1, whose words back it only in part; P2 holds all of it.
    answer = "The first cohort had 15 use cases from 10 banks and the Sandbox. [1]"
    result = quote_weak_sentences(answer, [P1, P2], "How many use cases did the first cohort have?")
    assert result.repointed == 1 and result.quoted == 0
    assert result.text == "The first cohort had 15 use cases from 10 banks and the Sandbox. [2]"
    assert [c.number for c in result.citations] == [2]
