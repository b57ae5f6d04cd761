"""Rendering and the Gradio turn handler on fakes: answers and refusals never
look alike, drafts are marked unverified, and faults become one sentence."""

from __future__ import annotations

from chatbot.channels.gradio_ui import chat_turn
from chatbot.channels.render import render_answer, render_outcome, render_refusal
from chatbot.domain import Answer, Citation, Refusal, RefusalReason
from chatbot.errors import GeneratorUnavailableError
from chatbot.pipeline import Pipeline
from chatbot.settings import GateSettings, RetrievalSettings
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex
from tests.fakes_llm import ScriptedGenerator
from tests.unit.test_pipeline import TEXTS, make_chunk


def pipeline_with(generator: ScriptedGenerator) -> Pipeline:
    embedder, vectors, keywords = HashEmbedder(), InMemoryVectorIndex(), InMemoryKeywordIndex()
    chunks = [make_chunk(i, *row) for i, row in enumerate(TEXTS)]
    vectors.upsert(chunks, embedder.embed([c.text for c in chunks]))
    keywords.upsert(chunks)
    return Pipeline(
        embedder,
        vectors,
        keywords,
        generator,
        RetrievalSettings(),
        GateSettings(min_dense_score=0.05),
    )


def test_answer_shows_citations_with_title_page_path_and_quote() -> None:
    chunk = make_chunk(1, *TEXTS[1])
    from chatbot.domain import Passage

    passage = Passage(chunk, 0.1, 0.6, 2.0)
    text = render_answer(
        Answer("It had 15 use cases [1].", (Citation(1, passage),), (passage,), "m")
    )
    assert "**Sources**" in text and "p. 2" in text and "`overview.pdf`" in text
    assert "> The first cohort brought together 15 use cases" in text
    assert "Not answered" not in text


def test_refusal_is_marked_with_reason_and_is_not_an_answer() -> None:
    refusal = Refusal(RefusalReason.NO_EVIDENCE, "I can't find this.")
    text = render_refusal(refusal)
    assert text.startswith("🚫 **Not answered") and "`no_evidence`" in text
    assert "**Sources**" not in text
    assert "文件中沒有相關內容" in render_outcome(refusal, "zh")


def test_turn_streams_drafts_then_the_verified_answer() -> None:
    bot = pipeline_with(
        ScriptedGenerator("The Sandbox was launched in August 2024 by the HKMA [1].")
    )
    updates = list(chat_turn(bot, "When was the GenA.I. Sandbox launched?", []))
    contents = [history[-1]["content"] for _, history in updates]
    assert any("not yet checked" in c for c in contents[1:-1])
    assert "**Sources**" in contents[-1] and "not yet checked" not in contents[-1]
    assert updates[-1][1][0] == {
        "role": "user",
        "content": "When was the GenA.I. Sandbox launched?",
    }


def test_turn_renders_refusal_without_calling_the_llm() -> None:
    generator = ScriptedGenerator()
    updates = list(chat_turn(pipeline_with(generator), "Who won the 2022 FIFA World Cup?", []))
    assert updates[-1][1][-1]["content"].startswith("🚫")
    assert generator.calls == []


def test_turn_turns_a_dead_llm_into_one_sentence() -> None:
    bot = pipeline_with(ScriptedGenerator(GeneratorUnavailableError("cannot reach the LLM server")))
    updates = list(chat_turn(bot, "When was the GenA.I. Sandbox launched?", []))
    last = updates[-1][1][-1]["content"]
    assert "not available" in last and "cannot reach the LLM server" in last
    assert "Traceback" not in last
