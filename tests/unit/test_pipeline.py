"""The answering pipeline on fakes: each step alone, then answer() end to end."""

from __future__ import annotations

import pytest

from chatbot.access import PUBLIC
from chatbot.answer.gate import assess, below_thresholds
from chatbot.answer.pipeline import Draft, Pipeline
from chatbot.answer.prompts import REFUSAL_SENTENCE, approx_tokens, build_messages, select_passages
from chatbot.answer.question import Question
from chatbot.answer.retrieval import fuse, retrieve
from chatbot.domain import Answer, Refusal, RefusalReason
from chatbot.errors import GeneratorUnavailableError
from chatbot.protocols import Hit
from chatbot.settings import GateSettings, RetrievalSettings
from tests.builders import TEXTS, make_chunk, pipeline_over
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex
from tests.fakes_llm import ScriptedGenerator


@pytest.fixture
def parts() -> tuple[HashEmbedder, InMemoryVectorIndex, InMemoryKeywordIndex]:
    embedder = HashEmbedder()
    vectors = InMemoryVectorIndex()
    keywords = InMemoryKeywordIndex()
    chunks = [make_chunk(i, *row) for i, row in enumerate(TEXTS)]
    vectors.upsert(chunks, embedder.embed([c.text for c in chunks]))
    keywords.upsert(chunks)
    return embedder, vectors, keywords


def make_pipeline(parts, generator: ScriptedGenerator, **gate: float) -> Pipeline:  # type: ignore[no-untyped-def]
    embedder, vectors, keywords = parts
    gate_settings = GateSettings(min_dense_score=0.05, **gate)
    return Pipeline(embedder, vectors, keywords, generator, RetrievalSettings(), gate_settings)


def test_fuse_orders_by_reciprocal_rank_and_keeps_both_scores() -> None:
    a, b, c = (make_chunk(i, "x.md", None, t) for i, t in enumerate(["a", "b", "c"]))
    dense = [Hit(a, 0.9), Hit(b, 0.5)]
    keyword = [Hit(b, 7.0), Hit(c, 3.0)]
    fused = fuse(dense, keyword, rrf_k=60)
    assert [p.id for p in fused] == ["c1", "c0", "c2"]
    assert fused[0].dense_score == 0.5 and fused[0].keyword_score == 7.0
    assert fused[2].dense_score is None


def test_fuse_with_dense_weight_zero_lets_the_keyword_ranking_decide() -> None:
    a, b, c = (make_chunk(i, "x.md", None, t) for i, t in enumerate(["a", "b", "c"]))
    dense = [Hit(a, 0.9), Hit(b, 0.5)]
    keyword = [Hit(c, 7.0), Hit(b, 3.0)]
    assert [p.id for p in fuse(dense, keyword)] == ["c1", "c0", "c2"]
    fused = fuse(dense, keyword, dense_weight=0.0)
    assert [p.id for p in fused] == ["c2", "c1", "c0"]  # dense-only "a" comes last
    assert fused[2].dense_score == 0.9 and fused[2].fused_score == 0.0


def test_chinese_questions_use_the_chinese_dense_weight() -> None:
    # the English-only embedder ranks the Chinese passage third; keywords rank it first
    zh = make_chunk(0, "zh.md", None, "首批沙盒的報告於2025年10月31日發布。")
    en = [make_chunk(i, "en.md", None, f"unrelated english text {i}") for i in (1, 2)]

    class Dense:
        def query(self, vector, k, *, audience):  # type: ignore[no-untyped-def]
            return [Hit(en[0], 0.9), Hit(en[1], 0.8), Hit(zh, 0.1)]

    class Keyword:
        def search(self, query, k, *, audience):  # type: ignore[no-untyped-def]
            return [Hit(zh, 20.0), Hit(en[0], 2.0)]

    class Embed:
        def embed(self, texts):  # type: ignore[no-untyped-def]
            return [[0.0] for _ in texts]

    question = "首批沙盒的報告於何時發布？"
    args = (Embed(), Dense(), Keyword())
    default = retrieve(Question.of(question), *args, RetrievalSettings(), audience=PUBLIC)  # type: ignore[arg-type]
    assert default[0].chunk is zh
    both = retrieve(
        Question.of(question), *args, RetrievalSettings(dense_weight_zh=1.0), audience=PUBLIC
    )  # type: ignore[arg-type]
    assert both[0].chunk is en[0]  # 1/61 + 1/62 beats the passage's 1/63 + 1/61
    english = retrieve(Question.of("When was it?"), *args, RetrievalSettings(), audience=PUBLIC)  # type: ignore[arg-type]
    assert english[0].chunk is en[0]


def test_retrieve_finds_the_passage_with_the_fact(parts) -> None:  # type: ignore[no-untyped-def]
    embedder, vectors, keywords = parts
    passages = retrieve(
        Question.of("How many banks were in the first cohort?"),
        embedder,
        vectors,
        keywords,
        RetrievalSettings(),
        audience=PUBLIC,
    )
    assert passages[0].chunk.page == 2


def test_select_passages_respects_count_and_budget(parts) -> None:  # type: ignore[no-untyped-def]
    embedder, vectors, keywords = parts
    passages = retrieve(
        Question.of("sandbox cohort incident"),
        embedder,
        vectors,
        keywords,
        RetrievalSettings(),
        audience=PUBLIC,
    )
    assert len(select_passages(passages, 2, 10_000)) == 2
    one = select_passages(passages, 4, approx_tokens(passages[0].chunk.text) + 12)
    assert len(one) == 1  # nothing else fits, but the best passage is always kept


def test_gate_passes_covered_question_and_blocks_uncovered(parts) -> None:  # type: ignore[no-untyped-def]
    embedder, vectors, keywords = parts
    settings = GateSettings(min_dense_score=0.05)
    for question, blocked in [
        ("When was the GenA.I. Sandbox launched?", False),
        ("What is the HKMA's forecast for 2027 GDP growth?", True),
        ("What is the capital of Peru?", True),
    ]:
        asked = Question.of(question)
        found = retrieve(asked, embedder, vectors, keywords, RetrievalSettings(), audience=PUBLIC)
        shown = select_passages(found, 4, 900)
        evidence = assess(asked, shown, found, keywords)
        assert (below_thresholds(evidence, settings) is not None) is blocked, evidence.describe()


def test_prompt_numbers_passages_and_states_the_refusal_sentence(parts) -> None:  # type: ignore[no-untyped-def]
    embedder, vectors, keywords = parts
    found = retrieve(
        Question.of("first cohort banks"),
        embedder,
        vectors,
        keywords,
        RetrievalSettings(),
        audience=PUBLIC,
    )[:2]
    system, user = build_messages(Question.of("How many banks?"), found)
    assert REFUSAL_SENTENCE["en"] in system.content
    assert "[1] (" in user.content and "[2] (" in user.content and "[3]" not in user.content
    assert "Overview, p. 2" in user.content
    zh_system, _ = build_messages(Question.of("沙盒何時推出？"), found)
    assert REFUSAL_SENTENCE["zh"] in zh_system.content


def test_answer_with_valid_citation(parts) -> None:  # type: ignore[no-untyped-def]
    def reply(messages):  # type: ignore[no-untyped-def]
        user = messages[-1].content
        number = next(n for n in range(1, 5) if f"[{n}] (Overview, p. 2)" in user)
        return f"The first cohort had 15 use cases from 10 banks [{number}]."

    generator = ScriptedGenerator(reply)
    outcome = make_pipeline(parts, generator).answer("How many banks were in the first cohort?")
    assert isinstance(outcome, Answer), outcome
    assert [(c.source, c.page) for c in outcome.citations] == [("overview.pdf", 2)]
    assert outcome.evidence is not None and outcome.evidence.coverage > 0.5
    assert len(generator.calls) == 1


def test_loosely_worded_answer_is_shown_in_the_passage_words(parts) -> None:  # type: ignore[no-untyped-def]
    # Half of this sentence is the model's rewording of the question; the
    # passage backs its answer (4 technology partners), not its words.
    def reply(messages):  # type: ignore[no-untyped-def]
        user = messages[-1].content
        number = next(n for n in range(1, 5) if f"[{n}] (Overview, p. 2)" in user)
        return f"The first cohort was assisted by 4 technology partners in total [{number}]."

    outcome = make_pipeline(parts, ScriptedGenerator(reply)).answer(
        "How many technology partners helped the first cohort?"
    )
    assert isinstance(outcome, Answer), outcome
    passage_text = TEXTS[1][2]
    assert outcome.text.startswith(passage_text)
    assert [(c.source, c.page) for c in outcome.citations] == [("overview.pdf", 2)]


def test_off_corpus_question_is_refused_without_calling_the_llm(parts) -> None:  # type: ignore[no-untyped-def]
    generator = ScriptedGenerator()
    outcome = make_pipeline(parts, generator).answer(
        "What is the HKMA's forecast for 2027 GDP growth?"
    )
    assert isinstance(outcome, Refusal)
    assert outcome.reason is RefusalReason.NO_EVIDENCE
    assert not outcome.llm_called and generator.calls == []
    assert "coverage" in outcome.detail


def test_uncited_answer_copied_from_a_passage_is_answered_with_the_citation_added(parts) -> None:  # type: ignore[no-untyped-def]
    outcome = make_pipeline(
        parts, ScriptedGenerator("The first cohort had 15 use cases from 10 banks.")
    ).answer("How many banks were in the first cohort?")
    assert isinstance(outcome, Answer), outcome
    assert outcome.text.endswith("[1]") and len(outcome.citations) == 1
    assert "10 banks" in outcome.citations[0].passage.chunk.text


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (REFUSAL_SENTENCE["en"], RefusalReason.MODEL_DECLINED),
        ("The cohort was funded with 300 million dollars.", RefusalReason.NO_VALID_CITATION),
        ("The first cohort had 15 use cases from 10 banks [9].", RefusalReason.NO_VALID_CITATION),
        ("The cohort was funded with 300 million dollars [1].", RefusalReason.UNSUPPORTED),
    ],
)
def test_bad_generations_become_refusals(parts, reply: str, reason: RefusalReason) -> None:  # type: ignore[no-untyped-def]
    outcome = make_pipeline(parts, ScriptedGenerator(reply)).answer(
        "How many banks were in the first cohort?"
    )
    assert isinstance(outcome, Refusal)
    assert outcome.reason is reason
    assert outcome.llm_called


@pytest.mark.parametrize("question", ["", "   ", "???", "x" * 2001])
def test_malformed_questions_are_refused_before_retrieval(parts, question: str) -> None:  # type: ignore[no-untyped-def]
    embedder = parts[0]
    before = embedder.calls
    outcome = make_pipeline(parts, ScriptedGenerator()).answer(question)
    assert isinstance(outcome, Refusal) and outcome.reason is RefusalReason.INVALID_QUESTION
    assert embedder.calls == before


def test_stream_yields_drafts_then_one_outcome(parts) -> None:  # type: ignore[no-untyped-def]
    generator = ScriptedGenerator("The Sandbox was launched in August 2024 by the HKMA [1].")
    events = list(make_pipeline(parts, generator).stream("When was the GenA.I. Sandbox launched?"))
    drafts = [e for e in events if isinstance(e, Draft)]
    assert len(drafts) > 1 and drafts[-1].text.endswith("[1].")
    assert isinstance(events[-1], Answer)
    assert sum(not isinstance(e, Draft) for e in events) == 1


def test_generator_failure_raises_typed_error(parts) -> None:  # type: ignore[no-untyped-def]
    generator = ScriptedGenerator(GeneratorUnavailableError("cannot reach the LLM server"))
    with pytest.raises(GeneratorUnavailableError, match="cannot reach"):
        make_pipeline(parts, generator).answer("When was the GenA.I. Sandbox launched?")


def test_chinese_question_reaches_the_chinese_passage(parts) -> None:  # type: ignore[no-untyped-def]
    generator = ScriptedGenerator(lambda m: "金管局與數碼港於2024年8月推出沙盒[1]。")
    outcome = make_pipeline(parts, generator).answer("金管局與數碼港何時推出生成式人工智能沙盒？")
    assert isinstance(outcome, Answer), outcome
    assert outcome.citations[0].source == "zh.md"


def test_the_pipeline_is_immutable_once_built() -> None:
    pipeline = pipeline_over(TEXTS, ScriptedGenerator())
    with pytest.raises(AttributeError, match="immutable"):
        pipeline.judge = None
