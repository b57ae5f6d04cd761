"""The reranker contract, run against the scripted fake and, marked ``real``,
against ``CrossEncoderReranker`` on a cross-encoder folder built offline from
the packaged MiniLM (a randomly initialised scoring head: enough to prove the
load, save and scoring path, not relevance)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from chatbot.adapters.cross_encoder import CrossEncoderReranker
from chatbot.protocols import Reranker
from tests.builders import ScriptedReranker, dps_passages


@pytest.fixture(scope="module")
def cross_encoder_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CrossEncoder saved offline from the packaged MiniLM, random one-label head."""
    from sentence_transformers import CrossEncoder

    from chatbot.adapters.st_embedder import resolve_model

    source, _ = resolve_model("all-MiniLM-L6-v2")
    folder = tmp_path_factory.mktemp("reranker") / "minilm-cross-encoder"
    model = CrossEncoder(str(source), num_labels=1, device="cpu", local_files_only=True)
    model.save(str(folder))
    return folder


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.real)])
def reranker(request: pytest.FixtureRequest) -> Reranker:
    if request.param == "fake":
        return ScriptedReranker({"limit": 0.9, "claims": 0.4, "payout": 0.4})
    folder: Path = request.getfixturevalue("cross_encoder_folder")
    return CrossEncoderReranker(str(folder))


class TestRerankerContract:
    def test_every_passage_comes_back_once_best_first(self, reranker: Reranker) -> None:
        passages = dps_passages()
        out = reranker.rerank("What is the deposit protection limit?", passages)
        assert sorted(p.id for p in out) == sorted(p.id for p in passages)
        scores = [p.rerank_score for p in out]
        assert all(s is not None and math.isfinite(s) for s in scores)
        assert scores == sorted(scores, key=lambda s: -(s or 0.0))
        by_id = {p.id: p for p in passages}
        assert all(replace(p, rerank_score=None) == by_id[p.id] for p in out)

    def test_no_passages_in_none_out(self, reranker: Reranker) -> None:
        assert reranker.rerank("anything", []) == []

    def test_it_has_a_name(self, reranker: Reranker) -> None:
        assert reranker.name
