"""Retrieval latency with and without a cross-encoder reranker.

Chunks the English text files of ``corpus/`` into ~120-word windows, indexes
them with the packaged embedder (exact cosine in memory) and the SQLite FTS5
keyword index in a temporary folder, then times ``retrieve()`` for the same
questions (sentences drawn from the corpus) without and with a reranker.

Without ``--model`` the reranker is a cross-encoder built offline from the
packaged MiniLM with a random scoring head: its scores are meaningless, but it
costs exactly what a MiniLM-L6 cross-encoder (e.g. ms-marco-MiniLM-L-6-v2)
costs. Models load before timing starts.

Run:  .venv/bin/python benchmarks/rerank_bench.py [--questions 50] [--model FOLDER]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from chatbot.access import PUBLIC, Audience
from chatbot.adapters.cross_encoder import CrossEncoderReranker
from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex
from chatbot.adapters.st_embedder import SentenceTransformerEmbedder, resolve_model
from chatbot.answer.question import Question
from chatbot.answer.retrieval import retrieve
from chatbot.domain import Chunk
from chatbot.protocols import Hit, Reranker
from chatbot.settings import RetrievalSettings

WINDOW_WORDS = 120
CORPUS = Path(__file__).resolve().parent.parent / "corpus"


class MemoryVectors:
    """``VectorIndex``: exact cosine over unit vectors; enough for a few hundred chunks."""

    def __init__(self) -> None:
        self.items: list[tuple[Chunk, Sequence[float]]] = []

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        self.items.extend(zip(chunks, vectors, strict=True))  # the benchmark never replaces

    def delete_ids(self, ids: Sequence[str]) -> None:
        self.items = [(c, v) for c, v in self.items if c.id not in set(ids)]

    def count(self) -> int:
        return len(self.items)

    def query(self, vector: Sequence[float], k: int, *, audience: Audience) -> list[Hit]:
        scored = [
            Hit(c, sum(a * b for a, b in zip(vector, v, strict=True)))
            for c, v in self.items
            if audience.allows(c.groups)
        ]
        return sorted(scored, key=lambda h: -h.score)[:k]


def corpus_chunks() -> list[Chunk]:
    chunks: list[Chunk] = []
    for path in sorted(CORPUS.glob("*")):
        if path.suffix not in (".md", ".txt") or path.name == "README.md":
            continue
        words = path.read_text("utf-8").split()
        for position, start in enumerate(range(0, len(words), WINDOW_WORDS)):
            text = " ".join(words[start : start + WINDOW_WORDS])
            digest = hashlib.sha256(text.encode()).hexdigest()
            chunks.append(
                Chunk(digest[:16], text, path.name, path.stem, None, "", "en", digest, "", position)
            )
    return chunks


def questions(chunks: Sequence[Chunk], n: int) -> list[str]:
    rng = random.Random(0)
    sentences = [
        s.strip()
        for c in chunks
        for s in re.split(r"(?<=[.?!])\s+", c.text)
        if 6 <= len(s.split()) <= 30
    ]
    return [" ".join(s.split()[:14]) for s in rng.sample(sentences, min(n, len(sentences)))]


def random_head_folder(where: Path) -> Path:
    from sentence_transformers import CrossEncoder

    source, _ = resolve_model("all-MiniLM-L6-v2")
    folder = where / "random-head-cross-encoder"
    CrossEncoder(str(source), num_labels=1, device="cpu", local_files_only=True).save(str(folder))
    return folder


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--model", help="a cross-encoder folder (default: random-head MiniLM)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        chunks = corpus_chunks()
        embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
        vectors = MemoryVectors()
        vectors.upsert(chunks, embedder.embed([c.text for c in chunks]))
        keywords = SqliteKeywordIndex(Path(tmp) / "keywords.sqlite3")
        keywords.upsert(chunks)
        folder = args.model or str(random_head_folder(Path(tmp)))
        reranker = CrossEncoderReranker(folder)
        settings = RetrievalSettings(rerank_candidates=args.candidates)
        asked = questions(chunks, args.questions)
        reranker.rerank(
            asked[0],
            retrieve(Question.of(asked[0]), embedder, vectors, keywords, settings, audience=PUBLIC),
        )

        def timed(with_reranker: Reranker | None) -> list[float]:
            seconds = []
            for question in asked:
                started = time.perf_counter()
                retrieve(
                    Question.of(question),
                    embedder,
                    vectors,
                    keywords,
                    settings,
                    audience=PUBLIC,
                    reranker=with_reranker,
                )
                seconds.append(time.perf_counter() - started)
            return seconds

        plain, reranked = timed(None), timed(reranker)
        keywords.close()

    print(f"{len(chunks)} chunks, {len(asked)} questions, {args.candidates} candidates rescored")
    for label, seconds in (("retrieve", plain), ("retrieve + rerank", reranked)):
        print(
            f"{label:>18}: p50 {statistics.median(seconds) * 1000:7.1f} ms  "
            f"p95 {percentile(seconds, 0.95) * 1000:7.1f} ms"
        )
    print(f"ratio (p50): {statistics.median(reranked) / statistics.median(plain):.1f}x")


if __name__ == "__main__":
    main()
