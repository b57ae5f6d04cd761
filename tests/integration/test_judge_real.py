"""SupportJudge on the embedded vLLM CPU server (started once per test
session by the ``embedded_llm`` fixture): the constrained JSON call works end
to end and the judge tells a backed answer from an unbacked one."""

from __future__ import annotations

import pytest

from chatbot.answer.judge import SupportJudge
from chatbot.compose import build_generator
from chatbot.domain import Chunk, Passage
from chatbot.settings import Settings

pytestmark = [pytest.mark.real, pytest.mark.llm, pytest.mark.slow]


def passage(text: str, language: str = "en") -> Passage:
    chunk = Chunk("c1", text, "guide.pdf", "Guide", 4, "", language, "h", "f", 0)
    return Passage(chunk=chunk, fused_score=0.1)


INCIDENTS = passage(
    "Staff must report any incident involving a generative AI tool to the AI Governance "
    "Desk within 24 hours of discovery. The Desk logs the incident and informs the Chief "
    "Risk Officer."
)


@pytest.fixture
def judge(settings: Settings, embedded_llm: str) -> SupportJudge:
    return SupportJudge(build_generator(settings, base_url=embedded_llm))


def test_backed_answer_is_supported_with_its_span(judge: SupportJudge) -> None:
    judgement = judge.judge(
        "Within how many hours must a GenAI incident be reported to the AI Governance Desk?",
        "A GenAI incident must be reported to the AI Governance Desk within 24 hours [1].",
        [INCIDENTS],
    )
    assert judgement.supported, judgement
    assert judgement.short_answer is not None and "24" in judgement.short_answer, judgement


def test_answer_the_passage_does_not_hold_is_not_supported(judge: SupportJudge) -> None:
    judgement = judge.judge(
        "What fine does a bank pay for reporting a GenAI incident late?",
        "A bank that reports late pays a fine of HK$500,000 [1].",
        [INCIDENTS],
    )
    assert not judgement.supported, judgement
    assert "unusable" not in judgement.detail, judgement


def test_chinese_backed_answer_is_supported(judge: SupportJudge) -> None:
    text = "金管局與數碼港於2024年8月推出生成式人工智能沙盒，首批有10家銀行參與。"
    judgement = judge.judge(
        "首批有多少家銀行參與生成式人工智能沙盒？",
        "首批有10家銀行參與沙盒[1]。",
        [passage(text, "zh")],
    )
    assert judgement.supported, judgement
    assert judgement.short_answer is not None and "10" in judgement.short_answer, judgement
