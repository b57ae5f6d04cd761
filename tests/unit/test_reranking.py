"""Cross-encoder reranking: the step in retrieval, the adapter's folder checks
and its wiring, on fakes. The contract suite shared by the fake and the real
adapter is ``tests/contracts/test_reranker_contract.py``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from chatbot.access import PUBLIC
from chatbot.adapters.cross_encoder import CrossEncoderReranker, check_folder
from chatbot.answer.question import Question
from chatbot.answer.retrieval import fuse, rerank, retrieve
from chatbot.compose import build_reranker
from chatbot.errors import BoundaryError, ConfigurationError, RerankerError
from chatbot.settings import RetrievalSettings, Settings
from tests.builders import (
    DPS_TEXTS,
    RERANKER_FAILURE,
    TEXTS,
    FailingReranker,
    ScriptedReranker,
    classifier_config_folder,
    dps_chunk,
    dps_passages,
    pipeline_over,
)
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex
from tests.fakes_llm import ScriptedGenerator

SETTING = "CHATBOT_RETRIEVAL__RERANKER_MODEL"

# -- the rerank step in retrieval ----------------------------------------------


def test_reranked_passages_come_best_first() -> None:
    passages = dps_passages()
    reranker = ScriptedReranker({"claims": 3.0, "eligible": 2.0, "limit": 1.0})
    out = rerank("q", passages, reranker, candidates=10)
    assert [p.id for p in out] == ["claims", "eligible", "limit", "payout", "excluded"]
    assert [p.rerank_score for p in out] == [3.0, 2.0, 1.0, 0.0, 0.0]
    # Only the rerank score is new: fused scores and chunks are untouched.
    by_id = {p.id: p for p in passages}
    assert all(replace(p, rerank_score=None) == by_id[p.id] for p in out)


def test_only_the_first_candidates_are_rescored() -> None:
    passages = dps_passages()
    reranker = ScriptedReranker({"payout": 5.0, "claims": 9.0})
    out = rerank("q", passages, reranker, candidates=2)
    assert reranker.calls == [("q", ["limit", "payout"])]
    # "claims" scores highest but was not a candidate: it stays in fused order.
    assert [p.id for p in out] == ["payout", "limit", "eligible", "excluded", "claims"]
    assert [p.rerank_score for p in out] == [5.0, 0.0, None, None, None]


@pytest.fixture
def stores() -> tuple[HashEmbedder, InMemoryVectorIndex, InMemoryKeywordIndex]:
    embedder, vectors, keywords = HashEmbedder(), InMemoryVectorIndex(), InMemoryKeywordIndex()
    chunks = [dps_chunk(cid, text) for cid, text in DPS_TEXTS.items()]
    vectors.upsert(chunks, embedder.embed([c.text for c in chunks]))
    keywords.upsert(chunks)
    return embedder, vectors, keywords


def test_retrieve_without_a_reranker_is_the_fused_order(
    stores: tuple[HashEmbedder, InMemoryVectorIndex, InMemoryKeywordIndex],
) -> None:
    embedder, vectors, keywords = stores
    settings = RetrievalSettings()
    question = "Which deposits are protected?"
    expected = fuse(
        vectors.query(embedder.embed([question])[0], settings.dense_k, audience=PUBLIC),
        keywords.search(question, settings.keyword_k, audience=PUBLIC),
        settings.rrf_k,
    )
    plain = retrieve(Question.of(question), embedder, vectors, keywords, settings, audience=PUBLIC)
    assert plain == retrieve(
        Question.of(question), embedder, vectors, keywords, settings, reranker=None, audience=PUBLIC
    )
    assert plain == expected and len(plain) == len(DPS_TEXTS)
    assert all(p.rerank_score is None for p in plain)


def test_retrieve_reranks_the_configured_number_of_candidates(
    stores: tuple[HashEmbedder, InMemoryVectorIndex, InMemoryKeywordIndex],
) -> None:
    embedder, vectors, keywords = stores
    settings = RetrievalSettings(rerank_candidates=3)
    question = "Which deposits are protected?"
    fused = retrieve(Question.of(question), embedder, vectors, keywords, settings, audience=PUBLIC)
    last_candidate = fused[2].id
    reranker = ScriptedReranker({last_candidate: 1.0})

    out = retrieve(
        Question.of(question),
        embedder,
        vectors,
        keywords,
        settings,
        reranker=reranker,
        audience=PUBLIC,
    )

    assert reranker.calls == [(question, [p.id for p in fused[:3]])]
    assert out[0].id == last_candidate and out[0].rerank_score == 1.0
    assert [p.id for p in out[1:3]] == [p.id for p in fused[:2]]
    assert out[3:] == fused[3:]


def test_a_reranker_failure_stops_the_pipeline_before_the_llm() -> None:
    generator = ScriptedGenerator("The Sandbox was launched in August 2024 [1].")
    pipeline = pipeline_over(TEXTS, generator, reranker=FailingReranker())
    with pytest.raises(RerankerError) as info:
        pipeline.answer("When was the GenA.I. Sandbox launched?")
    assert info.value is RERANKER_FAILURE and generator.calls == []


def test_nothing_retrieved_means_no_rerank_call() -> None:
    reranker = ScriptedReranker({})
    out = retrieve(
        Question.of("anything"),
        HashEmbedder(),
        InMemoryVectorIndex(),
        InMemoryKeywordIndex(),
        RetrievalSettings(),
        reranker=reranker,
        audience=PUBLIC,
    )
    assert out == [] and reranker.calls == []


# -- the adapter's folder checks and the composition root -------------------------


def test_a_missing_folder_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        CrossEncoderReranker(str(tmp_path / "no-such-model"))
    message = str(info.value)
    assert "does not exist" in message and SETTING in message and "unset it" in message


def test_an_empty_folder_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no config\.json"):
        check_folder(str(tmp_path))


def test_an_embedding_model_is_not_a_cross_encoder() -> None:
    from chatbot.adapters.st_embedder import resolve_model

    packaged, _ = resolve_model("all-MiniLM-L6-v2")
    with pytest.raises(ConfigurationError, match=r"SentenceTransformer .*not a cross-encoder"):
        check_folder(str(packaged))


def test_a_plain_transformers_folder_needs_a_classification_head(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}), "utf-8")
    with pytest.raises(ConfigurationError, match="ForSequenceClassification"):
        check_folder(str(tmp_path))
    (tmp_path / "config.json").write_text(
        json.dumps({"architectures": ["XLMRobertaForSequenceClassification"]}), "utf-8"
    )
    assert check_folder(str(tmp_path)) == tmp_path.resolve()


def test_construction_checks_the_folder_but_does_not_load_the_model(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"architectures": ["BertForSequenceClassification"]}), "utf-8"
    )
    reranker = CrossEncoderReranker(str(tmp_path))
    assert reranker.name == f"local:{tmp_path.resolve()}"
    assert reranker._model is None
    assert reranker.rerank("q", []) == []
    assert reranker._model is None


class _FailingCrossEncoder:
    """Stands in for a loaded ``sentence_transformers.CrossEncoder`` whose
    ``predict`` fails the way torch does when the device runs out of memory."""

    num_labels = 1

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, pairs: Sequence[tuple[str, str]], **_: object) -> list[float]:
        self.calls += 1
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_a_scoring_failure_is_a_reranker_error_not_a_configuration_error(
    tmp_path: Path,
) -> None:
    reranker = CrossEncoderReranker(str(classifier_config_folder(tmp_path)))
    model = _FailingCrossEncoder()
    reranker._model = model  # type: ignore[assignment]  # as if loaded on first use
    with pytest.raises(RerankerError) as info:
        reranker.rerank("What is the deposit protection limit?", dps_passages())
    error = info.value
    assert isinstance(error, BoundaryError) and not isinstance(error, ConfigurationError)
    assert isinstance(error.__cause__, RuntimeError) and model.calls == 1
    message = str(error)
    assert str(tmp_path.resolve()) in message and "'cpu'" in message
    assert "while scoring 5 passages" in message and "CUDA out of memory" in message
    assert f"unset {SETTING}" in message


def test_reranking_is_off_by_default(settings: Settings) -> None:
    assert settings.retrieval.reranker_model is None
    assert settings.retrieval.rerank_candidates == 20
    assert build_reranker(settings) is None


def test_an_empty_setting_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "")
    assert build_reranker(Settings(_env_file=None)) is None


def test_the_environment_selects_the_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"architectures": ["BertForSequenceClassification"]}), "utf-8"
    )
    monkeypatch.setenv(SETTING, str(tmp_path))
    monkeypatch.setenv("CHATBOT_RETRIEVAL__RERANK_CANDIDATES", "8")
    settings = Settings(_env_file=None)
    assert settings.retrieval.rerank_candidates == 8
    reranker = build_reranker(settings)
    assert isinstance(reranker, CrossEncoderReranker)
    assert reranker.folder == tmp_path.resolve()


def test_a_missing_folder_fails_when_the_reranker_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(SETTING, str(tmp_path / "gone"))
    with pytest.raises(ConfigurationError, match=SETTING):
        build_reranker(Settings(_env_file=None))


def test_at_least_one_candidate() -> None:
    with pytest.raises(ValueError, match="rerank_candidates"):
        RetrievalSettings(rerank_candidates=0)
