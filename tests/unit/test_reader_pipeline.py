"""The pipeline's read step through a scripted reader: refusal before any LLM
call, the judge skipped only when a confident reading agrees with the answer."""

from __future__ import annotations

from chatbot.domain import Answer, Refusal, RefusalReason
from tests.builders import IN_CORPUS, IN_CORPUS_REPLY, ScriptedReader, pipeline_reading
from tests.fakes_llm import ScriptedGenerator

JUDGED = {"answer": "August 2024", "supported": True}


def test_low_reading_refuses_before_any_llm_call() -> None:
    generator = ScriptedGenerator()
    reader = ScriptedReader(0.1, "August 2024")
    outcome = pipeline_reading(generator, reader).answer(IN_CORPUS)
    assert isinstance(outcome, Refusal)
    assert outcome.reason is RefusalReason.NOT_IN_PASSAGES
    assert not outcome.llm_called and generator.calls == []
    assert outcome.evidence is not None and outcome.evidence.reader == 0.1
    assert "0.10 below 0.30" in outcome.detail
    assert outcome.passages  # the user is shown what was read


def test_confident_agreeing_reading_skips_the_judge() -> None:
    generator = ScriptedGenerator(IN_CORPUS_REPLY)
    reader = ScriptedReader(0.95, "August 2024")
    outcome = pipeline_reading(generator, reader, judge_reply=JUDGED).answer(IN_CORPUS)
    assert isinstance(outcome, Answer)
    assert outcome.short_answer == "August 2024"
    assert not outcome.judge_called and generator.json_calls == []
    assert len(generator.calls) == 1
    assert reader.questions == [IN_CORPUS]
    assert outcome.timings.read_s >= 0.0


def test_confident_reading_that_the_answer_does_not_carry_asks_the_judge() -> None:
    generator = ScriptedGenerator(IN_CORPUS_REPLY)
    # the span is in a passage the answer does not cite
    reader = ScriptedReader(0.95, "15 use cases from 10 banks")
    outcome = pipeline_reading(generator, reader, judge_reply=JUDGED).answer(IN_CORPUS)
    assert isinstance(outcome, Answer)
    assert outcome.judge_called and len(generator.json_calls) == 1
    assert outcome.short_answer == "August 2024"  # the judge's span, not the reader's


def test_middling_reading_asks_the_judge_which_may_refuse() -> None:
    generator = ScriptedGenerator(IN_CORPUS_REPLY)
    reader = ScriptedReader(0.5, "August 2024")
    unsupported = {"answer": "", "supported": False}
    outcome = pipeline_reading(generator, reader, judge_reply=unsupported).answer(IN_CORPUS)
    assert isinstance(outcome, Refusal) and outcome.reason is RefusalReason.UNSUPPORTED
    assert outcome.llm_called and len(generator.json_calls) == 1


def test_reader_is_skipped_for_languages_it_does_not_cover() -> None:
    generator = ScriptedGenerator("沙盒於2024年8月推出 [1]。")
    reader = ScriptedReader(0.0)
    outcome = pipeline_reading(generator, reader).answer("生成式人工智能沙盒何時推出？")
    assert reader.questions == []
    assert isinstance(outcome, Answer)
    assert outcome.evidence is not None and outcome.evidence.reader is None
