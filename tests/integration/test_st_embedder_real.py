"""The packaged embedding model on real weights: unit vectors of 384
dimensions, and token counts without special tokens."""

from __future__ import annotations

import math

import pytest

from chatbot.adapters.st_embedder import SentenceTransformerEmbedder


@pytest.mark.real
def test_real_vectors_are_unit_length(real_embedder: SentenceTransformerEmbedder) -> None:
    vectors = real_embedder.embed(["Deposit protection limit", "存款保障上限", ""])
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, abs_tol=1e-4) for v in vectors)
    assert real_embedder.max_tokens == 256


@pytest.mark.real
def test_real_token_length_has_no_special_tokens(
    real_embedder: SentenceTransformerEmbedder,
) -> None:
    assert real_embedder.token_length("hello world") == 2
    assert real_embedder.token_length("") == 0
