"""The naive baseline: dense top-4, tutorial prompt, no gate, no citations."""

from __future__ import annotations

import pytest

from chatbot.domain import Answer, Chunk, Refusal, RefusalReason
from eval.baseline import BASELINE_K, NaiveBaseline, says_dont_know
from tests.fakes import HashEmbedder, InMemoryVectorIndex
from tests.fakes_llm import ScriptedGenerator

TEXTS = [
    "The GenA.I. Sandbox was launched in August 2024.",
    "The first cohort had 15 use cases from 10 banks.",
    "Incidents must be reported within 24 hours.",
    "The model risk checklist has five sections.",
    "Staff must not paste customer data into public chatbots.",
    "The second phase was announced in 2025.",
]


@pytest.fixture
def parts() -> tuple[HashEmbedder, InMemoryVectorIndex]:
    embedder = HashEmbedder()
    vectors = InMemoryVectorIndex()
    chunks = [
        Chunk(f"c{i}", text, f"doc{i}.md", f"Doc {i}", None, "", "en", "h", "f", 0)
        for i, text in enumerate(TEXTS)
    ]
    vectors.upsert(chunks, embedder.embed(TEXTS))
    return embedder, vectors


@pytest.mark.parametrize(
    ("reply", "declined"),
    [
        ("I don't know.", True),
        ("I do not know the answer to that question.", True),
        ("Sorry, I don’t know. The context does not say.", True),
        ("我不知道。", True),
        ("", True),
        ("The Sandbox was launched in August 2024.", False),
        ("It was launched in 2024. I don't know the exact day.", False),
        ("Nobody knows for sure, but it was in August 2024.", False),
    ],
)
def test_only_a_plain_dont_know_counts_as_declining(reply: str, declined: bool) -> None:
    assert says_dont_know(reply) is declined


def test_answers_from_the_four_nearest_passages_with_the_tutorial_prompt(parts) -> None:  # type: ignore[no-untyped-def]
    embedder, vectors = parts
    generator = ScriptedGenerator("It was launched in August 2024.")
    outcome = NaiveBaseline(embedder, vectors, generator).answer("When was the Sandbox launched?")
    assert isinstance(outcome, Answer)
    assert outcome.text == "It was launched in August 2024."
    assert outcome.citations == () and outcome.evidence is None
    assert len(outcome.passages) == BASELINE_K
    assert all(p.dense_score is not None and p.keyword_score is None for p in outcome.passages)
    (messages,) = generator.calls
    assert len(messages) == 1
    prompt = messages[0].content
    assert prompt.startswith("Use the following pieces of context to answer the question")
    assert "just say that you don't know" in prompt
    assert "Question: When was the Sandbox launched?" in prompt
    assert all(p.chunk.text in prompt for p in outcome.passages)
    assert outcome.timings.generate_s > 0 and outcome.timings.verify_s == 0


def test_dont_know_reply_is_a_model_declined_refusal(parts) -> None:  # type: ignore[no-untyped-def]
    embedder, vectors = parts
    generator = ScriptedGenerator("I don't know.")
    outcome = NaiveBaseline(embedder, vectors, generator).answer("What is the weather tomorrow?")
    assert isinstance(outcome, Refusal)
    assert outcome.reason is RefusalReason.MODEL_DECLINED
    assert outcome.llm_called and len(outcome.passages) == BASELINE_K


def test_no_gate_means_off_topic_questions_reach_the_model(parts) -> None:  # type: ignore[no-untyped-def]
    embedder, vectors = parts
    generator = ScriptedGenerator("Egg tarts need eggs, sugar and pastry.")
    outcome = NaiveBaseline(embedder, vectors, generator).answer("Best egg tart recipe?")
    assert isinstance(outcome, Answer) and len(generator.calls) == 1
