"""Keyword search latency: SQLite FTS5 index vs a naive full scan.

Builds a synthetic index of N chunks (default 100,000; Zipf-distributed
English vocabulary plus some Chinese), then times the same queries against

- ``SqliteKeywordIndex.search`` (FTS5 inverted index, BM25 top-k), and
- a naive baseline that scores every chunk with BM25 in Python from
  pre-tokenised term counts held in memory (i.e. what an index without an
  inverted index must do; it is given its data for free).

Run:  .venv/bin/python benchmarks/keyword_index_bench.py [--chunks 100000]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from chatbot.access import PUBLIC
from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex
from chatbot.domain import Chunk
from chatbot.text import content_terms, terms

K = 20
WORDS_PER_CHUNK = 120
CJK = "存款保障計劃銀行客戶資料風險管理詐騙模型指引報告監管金融科技沙盒利率貸款信用卡"


def vocabulary(rng: random.Random, size: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return sorted(words)


def make_text(rng: random.Random, vocab: list[str], weights: list[float]) -> str:
    words = rng.choices(vocab, weights=weights, k=WORDS_PER_CHUNK)
    text = " ".join(words)
    if rng.random() < 0.1:
        text += " " + "".join(rng.choice(CJK) for _ in range(30)) + "。"
    return text


class NaiveBM25:
    """Full scan: score every chunk for every query."""

    K1, B = 1.2, 0.75

    def __init__(self, docs: list[Counter[str]]) -> None:
        self.docs = docs
        self.lengths = [sum(d.values()) for d in docs]
        self.avg = sum(self.lengths) / len(docs)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        wanted = content_terms(query)
        n = len(self.docs)
        df = {t: sum(1 for d in self.docs if t in d) for t in wanted}
        idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in wanted}
        scored = []
        for i, doc in enumerate(self.docs):
            score = 0.0
            for t in wanted:
                tf = doc.get(t, 0)
                if tf:
                    norm = tf + self.K1 * (1 - self.B + self.B * self.lengths[i] / self.avg)
                    score += idf[t] * tf * (self.K1 + 1) / norm
            if score > 0:
                scored.append((i, score))
        scored.sort(key=lambda x: -x[1])
        return scored[:k]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered), p95


def timed(fn: Callable[[str], object], queries: list[str]) -> list[float]:
    out = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--baseline-queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    vocab = vocabulary(rng, 30_000)
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]  # Zipf
    texts = [make_text(rng, vocab, weights) for _ in range(args.chunks)]

    # Queries mix a common, a mid-frequency and 1-3 rare words, like real
    # questions do. The 20 most frequent synthetic words occur in nearly every
    # chunk, i.e. they behave like stopwords, which real queries have removed.
    queries = []
    for _ in range(args.queries):
        picks = [vocab[rng.randint(20, 300)], vocab[rng.randint(300, 3000)]]
        picks += [vocab[rng.randint(2000, len(vocab) - 1)] for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.15:
            picks.append("".join(rng.choice(CJK) for _ in range(4)))
        queries.append("what about " + " ".join(picks) + "?")

    with tempfile.TemporaryDirectory() as tmp:
        index = SqliteKeywordIndex(Path(tmp) / "bench.sqlite3")
        start = time.perf_counter()
        batch: list[Chunk] = []
        for i, text in enumerate(texts):
            batch.append(
                Chunk(f"c{i}", text, f"doc{i // 50}.pdf", "T", 1, "", "en", "h", "f", i % 50)
            )
            if len(batch) == 5000:
                index.upsert(batch)
                batch = []
        index.upsert(batch)
        build_s = time.perf_counter() - start
        size_mb = (Path(tmp) / "bench.sqlite3").stat().st_size / 1e6
        wal = Path(tmp) / "bench.sqlite3-wal"
        size_mb += wal.stat().st_size / 1e6 if wal.exists() else 0.0

        for q in queries[:10]:  # warm the page cache
            index.search(q, K, audience=PUBLIC)
        fts_ms = timed(lambda q: index.search(q, K, audience=PUBLIC), queries)

        naive = NaiveBM25([Counter(terms(t)) for t in texts])
        base_queries = queries[: args.baseline_queries]
        naive_ms = timed(lambda q: naive.search(q, K), base_queries)

        # Same queries on both sides for the ratio.
        fts_same = timed(lambda q: index.search(q, K, audience=PUBLIC), base_queries)
        index.close()

    f50, f95 = percentiles(fts_ms)
    n50, n95 = percentiles(naive_ms)
    s50, s95 = percentiles(fts_same)
    print(f"chunks: {args.chunks:,}  (~{WORDS_PER_CHUNK} words each), k={K}")
    print(f"index build: {build_s:.1f}s, file {size_mb:.0f} MB")
    print(f"FTS5 index   ({len(queries)} queries): p50 {f50:7.2f} ms   p95 {f95:7.2f} ms")
    print(f"naive scan   ({len(base_queries)} queries): p50 {n50:7.2f} ms   p95 {n95:7.2f} ms")
    print(f"FTS5, same {len(base_queries)} queries:     p50 {s50:7.2f} ms   p95 {s95:7.2f} ms")
    print(f"speed-up (naive / FTS5, same queries): p50 x{n50 / s50:.0f}   p95 x{n95 / s95:.0f}")


if __name__ == "__main__":
    main()
