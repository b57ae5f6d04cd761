"""SupportJudge with a scripted generator: the model's JSON is taken only as
far as the code can check it."""

from __future__ import annotations

import logging

import pytest

from chatbot.answer.judge import SCHEMA, SupportJudge, repeats_question, span_in_passages
from chatbot.domain import Chunk, Passage
from chatbot.errors import GeneratorUnavailableError
from tests.fakes_llm import ScriptedGenerator


def passage(text: str, language: str = "en") -> Passage:
    chunk = Chunk(
        id=f"id-{abs(hash(text))}",
        text=text,
        source="doc.pdf",
        title="Doc",
        page=1,
        section="",
        language=language,
        content_hash="h",
        file_hash="f",
        position=0,
    )
    return Passage(chunk=chunk, fused_score=0.1)


P1 = passage("The HKMA and Cyberport launched the GenA.I. Sandbox in August 2024.")
P2 = passage("The first cohort had 15 use cases from 10 banks and 4 technology partners.")
ZH = passage("金管局與數碼港於2024年\n8月推出生成式人工智能沙盒。", "zh")

QUESTION = "When was the GenA.I. Sandbox launched?"
ANSWER = "The Sandbox was launched in August 2024 [1]."


def judge_with(
    *replies: object, fail_closed: bool = False
) -> tuple[SupportJudge, ScriptedGenerator]:
    generator = ScriptedGenerator(json_replies=replies)  # type: ignore[arg-type]
    return SupportJudge(generator, max_tokens=64, fail_closed=fail_closed), generator


def test_supported_answer_returns_the_span() -> None:
    judge, generator = judge_with({"answer": "August 2024", "supported": True})
    judgement = judge.judge(QUESTION, ANSWER, [P1, P2])
    assert judgement.supported and judgement.short_answer == "August 2024"
    (messages, schema, name) = generator.json_calls[0]
    assert schema is SCHEMA and name == "support_judgement"
    prompt = messages[-1].content
    assert "[1] The HKMA and Cyberport" in prompt and "[2] The first cohort" in prompt
    assert QUESTION in prompt
    assert "launched in August 2024" in prompt and "[1]." not in prompt  # markers stripped


def test_judge_saying_no_is_unsupported() -> None:
    judge, _ = judge_with({"answer": "", "supported": False})
    judgement = judge.judge(QUESTION, ANSWER, [P1])
    assert not judgement.supported and judgement.short_answer is None


def test_span_not_in_the_cited_passages_is_unsupported() -> None:
    judge, _ = judge_with({"answer": "March 2023", "supported": True})
    judgement = judge.judge(QUESTION, ANSWER, [P1, P2])
    assert not judgement.supported and judgement.short_answer is None
    assert judgement.detail.startswith("answer span not found in cited passages")


def test_span_is_matched_ignoring_case_spacing_and_a_final_full_stop() -> None:
    judge, _ = judge_with('{"answer":"  august   2024.","supported":true}')
    judgement = judge.judge(QUESTION, ANSWER, [P1])
    assert judgement.supported and judgement.short_answer == "august   2024"


def test_supported_without_a_span_is_unsupported() -> None:
    judge, _ = judge_with({"answer": " ", "supported": True})
    assert not judge.judge(QUESTION, ANSWER, [P1]).supported


def test_span_that_only_repeats_the_question_is_unsupported() -> None:
    judge, _ = judge_with({"answer": "the GenA.I. Sandbox", "supported": True})
    judgement = judge.judge(QUESTION, ANSWER, [P1])
    assert not judgement.supported
    assert "repeats the question" in judgement.detail
    assert repeats_question("the Sandbox", "Who launched the sandbox?")
    assert not repeats_question("5", "How many banks?")  # no content term to compare
    # a figure the question lacks is what the span adds, however few its words
    assert not repeats_question("4 technology partners", "How many technology partners helped?")
    assert not repeats_question("1,200 staff", "How many staff?")
    assert repeats_question("10 banks", "Which were the 10 banks?")
    assert repeats_question("supporting partners", "Who supported the partner?")  # stemmed


@pytest.mark.parametrize(
    "reply",
    ['{"answer": "Aug', "{\n\n\n\n", "[1, 2]", {"verdict": "yes"}, {"answer": 3, "supported": 1}],
)
def test_unusable_output_fails_open_by_default(
    reply: object, caplog: pytest.LogCaptureFixture
) -> None:
    judge, _ = judge_with(reply)
    with caplog.at_level(logging.WARNING, logger="chatbot.answer.judge"):
        judgement = judge.judge(QUESTION, ANSWER, [P1])
    assert judgement.supported and judgement.short_answer is None
    assert judgement.detail.startswith("judge output unusable")
    assert "fail open" in caplog.text


def test_unusable_output_rejects_when_failing_closed() -> None:
    judge, _ = judge_with('{"answer": "Aug', fail_closed=True)
    judgement = judge.judge(QUESTION, ANSWER, [P1])
    assert not judgement.supported and judgement.short_answer is None
    assert judgement.detail.startswith("judge output unusable")


def test_server_faults_are_raised_not_judged() -> None:
    judge, _ = judge_with(GeneratorUnavailableError("down"))
    with pytest.raises(GeneratorUnavailableError):
        judge.judge(QUESTION, ANSWER, [P1])


def test_no_cited_passages_is_unsupported_without_a_call() -> None:
    judge, generator = judge_with()
    assert not judge.judge(QUESTION, ANSWER, []).supported
    assert generator.json_calls == []


def test_chinese_question_gets_a_chinese_instruction_and_character_containment() -> None:
    judge, generator = judge_with(
        {"answer": "2024年8月", "supported": True}, {"answer": "2023年8月", "supported": True}
    )
    question = "生成式人工智能沙盒何時推出？"
    answer = "沙盒於2024年8月推出[1]。"
    judgement = judge.judge(question, answer, [ZH])
    # The passage breaks the line inside the date; the span still matches.
    assert judgement.supported and judgement.short_answer == "2024年8月"
    system, user = generator.json_calls[0][0]
    assert "段落" in system.content and "問題: " + question in user.content
    assert not judge.judge(question, answer, [ZH]).supported


def test_span_in_passages_is_literal_not_word_overlap() -> None:
    assert span_in_passages("15 use cases", [P1, P2])
    assert not span_in_passages("use cases 15", [P1, P2])
    assert not span_in_passages("", [P1])
    assert span_in_passages("數碼港於2024", [ZH]) and not span_in_passages("數碼 港口", [ZH])


def test_span_alignment_tolerates_a_dropped_word_or_a_cut_off_end_but_not_a_collage() -> None:
    from chatbot.answer.judge import span_in_passages
    from chatbot.domain import Passage
    from tests.unit.test_pipeline import make_chunk

    def passage(text: str) -> Passage:
        return Passage(make_chunk(0, "a.pdf", 1, text), 1.0)

    focus = passage(
        "Three focus areas: risk management, anti-fraud measures, and customer experience."
    )
    assert span_in_passages("risk management, anti-fraud measures, customer experience", [focus])
    assert span_in_passages("Three focus areas: risk management, anti-fraud meas", [focus])
    cohort = passage("The first cohort brought together 15 use cases from 10 banks.")
    assert not span_in_passages("15 banks took part in the first cohort", [cohort])
    assert span_in_passages("15 use cases", [cohort])
    assert span_in_passages("首批有十五個用例", [passage("首批沙盒有十五個用例，來自十家銀行。")])
    assert not span_in_passages("二十家銀行", [passage("首批沙盒有十五個用例，來自十家銀行。")])


def test_a_simplified_span_matches_its_traditional_passage() -> None:
    # the 1.5B model often writes a Traditional name in Simplified in its JSON
    passage_zh = passage("珍珠港事件後，羅斯福發表《國恥演說》。杜拜與英國簽訂和約。", "zh")
    assert span_in_passages("罗斯福", [passage_zh])
    assert span_in_passages("英国", [passage_zh])
    assert not span_in_passages("法国", [passage_zh])
    judge, _ = judge_with({"answer": "罗斯福", "supported": True})
    judgement = judge.judge("哪位美國總統發表《國恥演說》?", "羅斯福發表了演說。[1]", [passage_zh])
    assert judgement.supported and judgement.short_answer == "罗斯福"


def test_continuation_mode_asks_as_the_next_turn_of_the_answer_call() -> None:
    from chatbot.answer.judge import AnswerCall
    from chatbot.protocols import ChatMessage

    generator = ScriptedGenerator(json_replies=[{"answer": "August 2024", "supported": True}])
    judge = SupportJudge(generator, mode="continue")
    prompt = [ChatMessage("system", "rules"), ChatMessage("user", "Passages: [1] … [2] …")]
    draft = "The Sandbox was launched in August 2024 [2]."
    call = AnswerCall(prompt, draft, (2,))
    judgement = judge.judge(QUESTION, ANSWER, [P1], answer_call=call)
    assert judgement.supported and judgement.short_answer == "August 2024"
    (messages, _, _) = generator.json_calls[0]
    # the answer call's messages unchanged (the cached prefix), the draft as written
    assert messages[:2] == prompt
    assert messages[2] == ChatMessage("assistant", draft)
    assert messages[3].role == "user" and "passage [2] only" in messages[3].content
    assert '"supported"' in messages[3].content


def test_continuation_mode_without_the_answer_call_sends_its_own_prompt() -> None:
    generator = ScriptedGenerator(json_replies=[{"answer": "August 2024", "supported": True}])
    judge = SupportJudge(generator, mode="continue")
    assert judge.judge(QUESTION, ANSWER, [P1]).supported
    (messages, _, _) = generator.json_calls[0]
    assert len(messages) == 2 and "[1] The HKMA and Cyberport" in messages[-1].content


def test_the_span_is_still_checked_against_the_cited_passages_in_continuation_mode() -> None:
    from chatbot.answer.judge import AnswerCall
    from chatbot.protocols import ChatMessage

    generator = ScriptedGenerator(json_replies=[{"answer": "March 2023", "supported": True}])
    judge = SupportJudge(generator, mode="continue")
    call = AnswerCall([ChatMessage("user", "p")], "draft [1]", (1,))
    judgement = judge.judge(QUESTION, ANSWER, [P1], answer_call=call)
    assert not judgement.supported and "not found" in judgement.detail


def test_review_mode_shows_the_draft_as_a_proposed_answer_after_the_answer_prompt() -> None:
    from chatbot.answer.judge import AnswerCall
    from chatbot.protocols import ChatMessage

    generator = ScriptedGenerator(json_replies=[{"answer": "August 2024", "supported": True}])
    judge = SupportJudge(generator, mode="review")
    prompt = [ChatMessage("system", "rules"), ChatMessage("user", "Passages: [1] … [2] …")]
    call = AnswerCall(prompt, "The Sandbox was launched in August 2024 [2].", (2,))
    assert judge.judge(QUESTION, ANSWER, [P1], answer_call=call).supported
    (messages, _, _) = generator.json_calls[0]
    assert messages[:2] == prompt and len(messages) == 3
    task = messages[2]
    assert task.role == "user" and "passage [2] only" in task.content
    assert "Proposed answer: The Sandbox was launched in August 2024." in task.content
    assert "[1]." not in task.content  # markers stripped
