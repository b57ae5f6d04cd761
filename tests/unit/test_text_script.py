from __future__ import annotations

from chatbot.text import fold_chinese_script, in_question_script, ordinals


def test_traditional_and_simplified_fold_to_one_form() -> None:
    traditional, simplified = "羅斯福發表《國恥演說》", "罗斯福发表《国耻演说》"
    assert fold_chinese_script(traditional) == fold_chinese_script(simplified)
    assert fold_chinese_script("英國") != fold_chinese_script("法國")


def test_text_without_chinese_is_left_alone() -> None:
    text = "The HKMA launched the Sandbox in August 2024 [1]."
    assert fold_chinese_script(text) is text


def test_an_answer_to_a_traditional_question_is_shown_in_traditional() -> None:
    question = "杜拜的酋長曾與哪一個國家簽訂了和約?"
    assert in_question_script("杜拜的酋長与英国簽訂了和約。[1]", question) == (
        "杜拜的酋長與英國簽訂了和約。[1]"
    )
    # a Simplified question keeps a Simplified answer; English is never touched
    simplified = "杜拜与英国签订和约"
    assert in_question_script(simplified, "杜拜与哪个国家签订和约?") == simplified
    assert in_question_script("The HKMA [1]", question) == "The HKMA [1]"


def test_characters_the_passages_use_are_kept_as_written() -> None:
    # A converter alone turns 東征 into 東徵 and 群 into 羣: both were right.
    question = "東征元帥府是1285年在哪裡設置的?"
    passage = "1285年，元朝在奴兒干地方設置東征元帥府，管理各族群。"
    answer = "东征元帥府設在奴兒干地方，管理各族群。[1]"
    assert in_question_script(answer, question) != "東征元帥府設在奴兒干地方，管理各族群。[1]"
    assert in_question_script(answer, question, passage) == (
        "東征元帥府設在奴兒干地方，管理各族群。[1]"
    )


def test_a_simplified_character_the_passages_lack_is_still_converted() -> None:
    question = "誰發表了國恥演說?"
    assert in_question_script("罗斯福发表了演說。[1]", question, "羅斯福發表國恥演說") == (
        "羅斯福發表了演說。[1]"
    )


def test_ordinals_from_second_up_in_both_scripts() -> None:
    assert ordinals("How many use cases are in the second cohort?") == {"second"}
    assert ordinals("the 3rd and 22nd floors, not the 1st") == {"3rd", "22nd"}
    assert ordinals("第二期沙盒") == {"第二"}
    # "first" is often implied by documents; a word that merely starts like one is no ordinal
    assert ordinals("The first cohort; three seconds later") == set()


def test_one_citation_marker_rule_strips_multi_number_markers() -> None:
    from chatbot.text import CITATION_RE, strip_citations

    text = "Launched in 2024 [1, 2]. Ten banks took part [3]，並且[1、2]。"
    assert strip_citations(text) == "Launched in 2024. Ten banks took part，並且。"
    assert CITATION_RE.findall(text) == ["1, 2", "3", "1、2"]


def test_condense_prompt_carries_no_multi_number_markers() -> None:
    from chatbot.answer.conversation import Turn, condense_messages

    history = [Turn("When was it launched?", "It was launched in August 2024 [1, 2].")]
    prompt = "\n".join(m.content for m in condense_messages("Who launched it?", history))
    assert "[1, 2]" not in prompt and "August 2024" in prompt
