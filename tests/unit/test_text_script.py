from __future__ import annotations

from chatbot.text import fold_chinese_script


def test_traditional_and_simplified_fold_to_one_form() -> None:
    traditional, simplified = "羅斯福發表《國恥演說》", "罗斯福发表《国耻演说》"
    assert fold_chinese_script(traditional) == fold_chinese_script(simplified)
    assert fold_chinese_script("英國") != fold_chinese_script("法國")


def test_text_without_chinese_is_left_alone() -> None:
    text = "The HKMA launched the Sandbox in August 2024 [1]."
    assert fold_chinese_script(text) is text
