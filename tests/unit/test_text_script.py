from __future__ import annotations

from chatbot.text import fold_chinese_script, in_question_script


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
