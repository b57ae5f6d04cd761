"""Hybrid retrieval: dense (vector) and keyword candidates fused by rank.

Reciprocal rank fusion needs no score calibration between the two sides, so
a BM25 score and a cosine similarity never have to be compared directly. The
raw scores are kept on each passage for the gate and for audit. An optional
cross-encoder then reorders the best few fused candidates (``rerank``).

Access is enforced here, before anything is ranked: both indexes are asked
only for what the question's ``Audience`` may see (each returns the best
``k`` of those), and ``chatbot.access.permitted`` checks the fused result
once more in our own code.

The keyword search runs in a worker thread while the question is embedded
and the vector index is asked: it needs no vector, and SQLite and
PostgreSQL both wait outside the GIL, so the two sides take as long as the
slower one rather than the sum (at 100k chunks the keyword side dominates).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from chatbot.access import Audience, permitted
from chatbot.answer.question import Question
from chatbot.domain import Chunk, Passage
from chatbot.protocols import Embedder, Hit, KeywordIndex, Reranker, VectorIndex
from chatbot.settings import RetrievalSettings

log = logging.getLogger(__name__)


def fuse(
    dense: Sequence[Hit], keyword: Sequence[Hit], rrf_k: int = 60, dense_weight: float = 1.0
) -> list[Passage]:
    """Merge two best-first hit lists into passages ordered by RRF score.

    Each keyword hit contributes ``1 / (rrf_k + rank)`` (rank from 1), each
    dense hit ``dense_weight`` times that; ties keep the dense side's order
    first, which makes the result deterministic. With ``dense_weight`` 0 the
    keyword ranking decides alone and dense-only hits follow it, still with
    their similarity kept for the gate.
    """
    fused: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    dense_scores: dict[str, float] = {}
    keyword_scores: dict[str, float] = {}
    for rank, hit in enumerate(dense, start=1):
        fused[hit.chunk.id] = fused.get(hit.chunk.id, 0.0) + dense_weight / (rrf_k + rank)
        chunks.setdefault(hit.chunk.id, hit.chunk)
        dense_scores.setdefault(hit.chunk.id, hit.score)
    for rank, hit in enumerate(keyword, start=1):
        fused[hit.chunk.id] = fused.get(hit.chunk.id, 0.0) + 1.0 / (rrf_k + rank)
        chunks.setdefault(hit.chunk.id, hit.chunk)
        keyword_scores.setdefault(hit.chunk.id, hit.score)
    order = sorted(fused, key=lambda cid: -fused[cid])  # stable: insertion order breaks ties
    return [
        Passage(
            chunk=chunks[cid],
            fused_score=fused[cid],
            dense_score=dense_scores.get(cid),
            keyword_score=keyword_scores.get(cid),
        )
        for cid in order
    ]


def rerank(
    question: str, passages: Sequence[Passage], reranker: Reranker, candidates: int
) -> list[Passage]:
    """The first ``candidates`` passages reordered by ``reranker``, then the rest
    in their original order (they were never rescored)."""
    head = reranker.rerank(question, passages[:candidates])
    if head:
        top = head[0]
        log.info(
            "reranked %d of %d with %s; top %s rerank=%s",
            len(head),
            len(passages),
            reranker.name,
            top.id[:12],
            None if top.rerank_score is None else round(top.rerank_score, 3),
        )
    return [*head, *passages[candidates:]]


def retrieve(
    question: Question,
    embedder: Embedder,
    vectors: VectorIndex,
    keywords: KeywordIndex,
    settings: RetrievalSettings,
    *,
    audience: Audience,
    reranker: Reranker | None = None,
) -> list[Passage]:
    """Candidates for ``question`` from both indexes, fused, best first.

    Chinese questions weigh the dense ranking by ``settings.dense_weight_zh``
    (the packaged embedder is English-only). With a ``reranker``, the best
    ``settings.rerank_candidates`` fused passages are rescored and reordered;
    the rest follow in fused order. Only passages ``audience`` may see come
    back; an empty audience gets none, and no index is asked.
    """
    if audience.empty:
        return []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyword") as pool:
        searching = pool.submit(
            keywords.search, question.text, settings.keyword_k, audience=audience
        )
        query_vector = embedder.embed([question.text])[0]
        dense = vectors.query(query_vector, settings.dense_k, audience=audience)
        keyword = searching.result()
    dense_weight = settings.dense_weight_zh if question.language == "zh" else 1.0
    passages = permitted(fuse(dense, keyword, settings.rrf_k, dense_weight), audience)
    if passages:
        top = passages[0]
        log.info(
            "retrieved %d dense + %d keyword -> %d fused; top %s dense=%s bm25=%s",
            len(dense),
            len(keyword),
            len(passages),
            top.id[:12],
            None if top.dense_score is None else round(top.dense_score, 3),
            None if top.keyword_score is None else round(top.keyword_score, 2),
        )
    if reranker is not None and passages:
        passages = rerank(question.text, passages, reranker, settings.rerank_candidates)
    return passages
