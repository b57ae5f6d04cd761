"""Access-filtered retrieval latency: what document-level access control costs.

Builds a synthetic bank corpus of N chunks (default 100,000) with the real
adapters in a temporary folder (persistent Chroma via ``ChromaVectorIndex``,
SQLite FTS5 via ``SqliteKeywordIndex``): documents of 50 chunks, 55% in group
``everyone``, the rest in 12 restricted groups of Zipf sizes, 10% of those in
two groups. Vectors: 384-dim, around 500 topic centres, each document's chunks
around its own offset; a topic has an owner group and 85% of a group's
documents are on its topics, so a question on a board topic finds board
chunks nearest (the hard case for filtering after the search). Text: a Zipf
vocabulary plus 16 words per topic. A query picks a topic: its centre plus
noise (dense), three of its words and a common one (keyword); it is asked for
every group, for everyone + 1 restricted group and for everyone + 4 (drawn
per query). Per-query p50/p95 (perf_counter, ms, after a warm-up; a row stops
after ``--budget`` seconds, ``n`` is how many it timed) for

- dense: the raw main collection with no filter (n=k: the baseline); the
  adapter (an audience holding every group asks the main collection; any
  other asks one collection per group it holds, in parallel, and merges);
  and, untimed, how often "over-fetch 3k unfiltered neighbours, then filter"
  would have found fewer than k allowed (the design this replaced: it then
  needed Chroma's ``where`` filter, 0.8-2.5 s a query at 100k);
- keyword: the adapter's statement (``SEARCH_SQL``) matching the terms alone
  (the baseline), and ``search`` (the terms restricted by the acl column).

recall: recall@k against the exact filtered top-k (dense: brute force over
the vectors; keyword: every match of the terms, ranked, then filtered); =ref:
share of queries with exactly that top-k. The verdict checks "filtered p95 <=
2x unfiltered p95".

Run:    .venv/bin/python benchmarks/access_bench.py [--chunks 100000] [--queries 200]
Smoke:  .venv/bin/python benchmarks/access_bench.py --chunks 2000 --queries 20
``--keep DIR`` builds into DIR or reuses its earlier build (same ``--chunks``
and ``--seed``).
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import statistics
import string
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import chromadb
import click
import numpy as np

from chatbot.access import Audience
from chatbot.adapters.chroma_index import ChromaVectorIndex
from chatbot.adapters.sqlite_fts import fts_query
from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex
from chatbot.adapters.sqlite_schema import SEARCH_SQL
from chatbot.domain import EVERYONE, Chunk, groups_from_label
from chatbot.llm.cpu import detect

DIM, TOPICS, DOC_CHUNKS, BATCH = 384, 500, 50, 5000
SHARE_EVERYONE, SHARE_TWO_GROUPS, OWN_TOPIC = 0.55, 0.10, 0.85
S_DOC, S_CHUNK, S_QUERY = 0.6, 0.35, 0.6  # noise norms, against unit topic centres
GENERAL_WORDS, TOPIC_WORDS, WORDS_PER_CHUNK, TOPIC_SHARE = 20_000, 16, 100, 0.3
GROUPS = tuple(  # restricted groups, largest first (Zipf sizes)
    "credit-risk compliance retail-banking treasury markets operations wealth legal audit hr "
    "it-security board".split()
)
ALL = (EVERYONE, *GROUPS)
EVERY = Audience(frozenset(ALL))
INCLUDE: Any = ["documents", "metadatas", "distances"]
COLLECTION = "access-bench"


def zipf(size: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1)
    return weights / weights.sum()


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@dataclass
class Corpus:
    vectors: np.ndarray  # (chunks, DIM) float32, unit length
    member: np.ndarray  # (chunks, len(ALL)) bool: chunk i is in group ALL[j]
    doc_groups: list[tuple[str, ...]]
    doc_topic: np.ndarray
    centres: np.ndarray


def make_corpus(chunks: int, seed: int) -> Corpus:
    rng = np.random.default_rng([seed, 1])
    docs = math.ceil(chunks / DOC_CHUNKS)

    def draw(size: int) -> np.ndarray:  # 0: everyone, j: ALL[j]
        restricted = rng.random(size) >= SHARE_EVERYONE
        return np.where(restricted, 1 + rng.choice(len(GROUPS), size, p=zipf(len(GROUPS))), 0)

    owner, primary = draw(TOPICS), draw(docs)
    doc_groups: list[tuple[str, ...]] = []
    doc_topic = np.empty(docs, dtype=np.int64)
    for d, g in enumerate(primary):
        names = {ALL[g]}
        while g and rng.random() < SHARE_TWO_GROUPS and len(names) == 1:
            names.add(ALL[1 + rng.choice(len(GROUPS), p=zipf(len(GROUPS)))])
        doc_groups.append(tuple(sorted(names)))
        own = np.flatnonzero(owner == g)
        topical = len(own) and rng.random() < OWN_TOPIC
        doc_topic[d] = rng.choice(own) if topical else rng.integers(TOPICS)
    centres = unit(rng.standard_normal((TOPICS, DIM)))
    offsets = rng.standard_normal((docs, DIM)) * (S_DOC / math.sqrt(DIM))
    doc_of = np.arange(chunks) // DOC_CHUNKS
    noise = rng.standard_normal((chunks, DIM)) * (S_CHUNK / math.sqrt(DIM))
    vectors = unit(centres[doc_topic[doc_of]] + offsets[doc_of] + noise).astype(np.float32)
    member = np.array([[name in groups for name in ALL] for groups in doc_groups])[doc_of]
    return Corpus(vectors, member, doc_groups, doc_topic, centres)


def vocabulary(seed: int) -> list[str]:
    """General words (Zipf rank = position) then TOPIC_WORDS words per topic."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < GENERAL_WORDS + TOPICS * TOPIC_WORDS:
        size = rng.randint(4, 10)
        words.add("".join(rng.choice(string.ascii_lowercase) for _ in range(size)))
    listed = sorted(words)
    rng.shuffle(listed)
    return listed


def make_chunks(corpus: Corpus, words: list[str], seed: int) -> list[Chunk]:
    rng = np.random.default_rng([seed, 2])
    n, topical = len(corpus.vectors), int(WORDS_PER_CHUNK * TOPIC_SHARE)
    general = rng.choice(GENERAL_WORDS, (n, WORDS_PER_CHUNK - topical), p=zipf(GENERAL_WORDS))
    topic = corpus.doc_topic[np.arange(n) // DOC_CHUNKS][:, None]
    own = rng.choice(TOPIC_WORDS, (n, topical), p=zipf(TOPIC_WORDS))
    ids = np.concatenate([general, GENERAL_WORDS + topic * TOPIC_WORDS + own], axis=1)
    chunks = []
    for i, row in enumerate(ids.tolist()):
        d, pos = divmod(i, DOC_CHUNKS)
        head = (f"c{i}", " ".join(words[w] for w in row), f"docs/d{d:05d}.pdf", f"Document {d}")
        chunks.append(
            Chunk(*head, 1 + pos // 2, "", "en", f"h{i}", f"f{d}", pos, groups=corpus.doc_groups[d])
        )
    return chunks


@dataclass(frozen=True)
class Query:
    vector: list[float]
    text: str
    one: Audience
    five: Audience

    def audience(self, kind: str) -> Audience:
        return {"all": EVERY, "one": self.one, "five": self.five}[kind]


def make_queries(corpus: Corpus, words: list[str], count: int, seed: int) -> list[Query]:
    rng = np.random.default_rng([seed, 3])
    out = []
    for _ in range(count):
        t = int(rng.integers(TOPICS))
        noise = rng.standard_normal(DIM) * (S_QUERY / math.sqrt(DIM))
        picks = rng.choice(TOPIC_WORDS, 3, replace=False, p=zipf(TOPIC_WORDS))
        said = [words[GENERAL_WORDS + t * TOPIC_WORDS + int(i)] for i in picks]
        said.append(words[int(rng.integers(50, 2000))])
        four = rng.choice(len(GROUPS), 4, replace=False)
        one = Audience(frozenset({EVERYONE, GROUPS[int(rng.integers(len(GROUPS)))]}))
        five = Audience(frozenset({EVERYONE, *(GROUPS[int(i)] for i in four)}))
        vector = unit(corpus.centres[t] + noise).tolist()
        out.append(Query(vector, f"what about {' '.join(said)}?", one, five))
    return out


def build(root: Path, corpus: Corpus, words: list[str], seed: int) -> None:
    marker = root / "access_bench.json"
    done = json.loads(marker.read_text()) if marker.exists() else {}
    want = {"chunks": len(corpus.vectors), "seed": seed}
    if done and {key: done.get(key) for key in want} != want:
        raise click.UsageError(f"{root} holds another build ({done}): use an empty folder")
    if all(done.get(part) for part in ("dense", "keyword")):
        click.echo(f"reusing the indexes in {root}")
        return
    chunks = make_chunks(corpus, words, seed)

    def load(what: str, rows: np.ndarray, put: Callable[[list[Chunk], np.ndarray], None]) -> None:
        start = time.perf_counter()
        for s in range(0, len(rows), BATCH):
            put([chunks[i] for i in rows[s : s + BATCH]], corpus.vectors[rows[s : s + BATCH]])
        click.echo(f"build: {what} ({len(rows):,} chunks) {time.perf_counter() - start:.1f}s")

    def chroma(name: str) -> Callable[[list[Chunk], np.ndarray], None]:
        return ChromaVectorIndex(collection=name, path=root / "chroma").upsert

    def built(part: str) -> None:
        done.update(want, **{part: True})
        marker.write_text(json.dumps(done))

    everything = np.arange(len(chunks))
    if not done.get("dense"):
        load("Chroma, main and group collections", everything, chroma(COLLECTION))
        built("dense")
    if not done.get("keyword"):
        keyword = SqliteKeywordIndex(root / "keyword.sqlite3")
        load("SQLite keyword index", everything, lambda part, _: keyword.upsert(part))
        keyword.close()
        built("keyword")


def asked(fn: Callable[[Query, Audience], Any], kind: str, q: Query) -> Any:
    return fn(q, q.audience(kind))


def exact(corpus: Corpus, q: Query, audience: Audience, k: int) -> set[str]:
    """The true top-k the audience may see, by brute force."""
    sims = corpus.vectors @ np.asarray(q.vector, dtype=np.float32)
    sims[~corpus.member[:, [ALL.index(g) for g in audience.groups]].any(axis=1)] = -np.inf
    top = np.argpartition(-sims, min(k, len(sims) - 1))[:k]
    return {f"c{i}" for i in top if np.isfinite(sims[i])}


def timed(fn: Callable[[Query], Any], queries: list[Query], budget: float) -> tuple[list, list]:
    """Milliseconds and results per query, after up to 5 warm-up queries (at
    most a tenth of ``budget``); stops once ``budget`` seconds are spent."""
    began = time.perf_counter()
    for q in queries[:5]:
        if time.perf_counter() - began < budget / 10:
            fn(q)
    ms, out, began = [], [], time.perf_counter()
    for q in queries:
        start = time.perf_counter()
        out.append(fn(q))
        ms.append((time.perf_counter() - start) * 1000)
        if time.perf_counter() - began > budget:
            break
    return ms, out


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def agreement(got: list, truth: list) -> tuple[float, float]:
    """Mean recall@k of ``got`` against ``truth`` (per query), and the share
    of queries where both hold the same ids."""
    pairs = [(set(a), set(b)) for a, b in zip(got, truth, strict=False)]
    recall = statistics.fmean(len(a & b) / max(1, len(b)) for a, b in pairs)
    return recall, statistics.fmean(a == b for a, b in pairs)


@dataclass
class Row:
    side: str  # "dense" or "keyword"
    strategy: str
    kind: str  # the audience, a key of LABEL
    ms: list[float]
    recall: float | None = None
    same: float | None = None  # share of queries with the reference's top-k ids
    fallback: float | None = None

    @property
    def p95(self) -> float:
        return p50_p95(self.ms)[1]


LABEL = {"all": "every group", "one": "1 group", "five": "5 groups"}
ADAPTER = {"dense": "query (adapter)", "keyword": "search (adapter)"}
Strategy = Callable[[Query, Audience], list[str]]


def dense_rows(
    root: Path, corpus: Corpus, queries: list[Query], k: int, budget: float
) -> list[Row]:
    adapter = ChromaVectorIndex(collection=COLLECTION, path=root / "chroma")
    col = adapter._session.collection()

    def raw(q: Query, n: int = k, include: Any = INCLUDE) -> Any:
        return col.query(query_embeddings=[q.vector], n_results=n, include=include)

    def ask(q: Query, aud: Audience) -> list[str]:
        return [h.chunk.id for h in adapter.query(q.vector, k, audience=aud)]

    # Open every group's collection once: the first query of a collection
    # loads its index from disk, which a running server has long done.
    for group in ALL:
        adapter.query(queries[0].vector, k, audience=Audience(frozenset({group})))

    def row(strategy: str, kind: str, fn: Strategy) -> Row:
        ms, got = timed(partial(asked, fn, kind), queries, budget)
        truth = [exact(corpus, q, q.audience(kind), k) for q in queries[: len(got)]]
        return Row("dense", strategy, kind, ms, *agreement(got, truth))

    rows = [
        row("no filter, raw collection n=k", "all", lambda q, aud: raw(q)["ids"][0]),
        *(row(ADAPTER["dense"], kind, ask) for kind in LABEL),
    ]
    narrow = ChromaVectorIndex(collection=COLLECTION, path=root / "chroma", threads=4)
    for group in ALL:  # warm, as above
        narrow.query(queries[0].vector, k, audience=Audience(frozenset({group})))

    def ask_narrow(q: Query, aud: Audience) -> list[str]:
        return [h.chunk.id for h in narrow.query(q.vector, k, audience=aud)]

    rows += [row("query, 4 threads", kind, ask_narrow) for kind in ("one", "five")]
    near = [raw(q, n=3 * k, include=["metadatas"])["metadatas"][0] for q in queries]
    labels = [[groups_from_label(m.get("acl")) for m in metas] for metas in near]
    for r in rows[2:4]:
        r.fallback = statistics.fmean(
            sum(q.audience(r.kind).allows(g) for g in ls) < k
            for q, ls in zip(queries, labels, strict=True)
        )
    return rows


def keyword_rows(root: Path, queries: list[Query], k: int, budget: float) -> list[Row]:
    index = SqliteKeywordIndex(root / "keyword.sqlite3")
    db = sqlite3.connect(root / "keyword.sqlite3")

    def unfiltered(q: Query, limit: int = k) -> list[Any]:  # the adapter's SQL, no acl clause
        return db.execute(SEARCH_SQL, (f"terms : ({fts_query(q.text)})", limit)).fetchall()

    def exact(q: Query, aud: Audience) -> list[str]:  # every match ranked, then filtered
        return [r[0] for r in unfiltered(q, -1) if aud.allows(groups_from_label(r[-2]))][:k]

    def search(q: Query, aud: Audience) -> list[str]:
        return [h.chunk.id for h in index.search(q.text, k, audience=aud)]

    rows = [Row("keyword", "no filter, adapter SQL", "all", timed(unfiltered, queries, budget)[0])]
    for kind in LABEL:
        ms, got = timed(partial(asked, search, kind), queries, budget)
        truth = [asked(exact, kind, q) for q in queries[: len(got)]]
        rows.append(Row("keyword", ADAPTER["keyword"], kind, ms, *agreement(got, truth)))
    db.close()
    index.close()
    return rows


def table(rows: list[Row]) -> None:
    """Ratios against the block's no-filter row (first) and adapter every-group row."""
    base, every = rows[0].p95, rows[1].p95
    for r in rows:
        p50, p95 = p50_p95(r.ms)
        values = (p50, p95, p95 / base, p95 / every, r.fallback, r.recall, r.same)
        cells = "".join(f"{v:9.2f}" if v is not None else " " * 9 for v in values)
        click.echo(f"{r.side + '  ' + r.strategy + ', ' + LABEL[r.kind]:50s}{len(r.ms):4d}{cells}")


def verdict(rows: list[Row]) -> None:
    base, side = rows[0].p95, rows[0].side
    mine = [r for r in rows if r.strategy == ADAPTER[side] and r.kind != "all"]
    shown = ", ".join(f"{LABEL[r.kind]} x{r.p95 / base:.2f}" for r in mine)
    met = all(r.p95 <= 2 * base for r in mine)
    click.echo(f"{side}, {ADAPTER[side]}: {shown} -> {'MET' if met else 'MISSED'}")
    worst: dict[str, float] = {}
    for r in rows[1:]:
        if r.kind != "all":
            worst[r.strategy] = max(worst.get(r.strategy, 0.0), r.p95 / base)
    meeting = [f"{s} (x{w:.2f})" for s, w in worst.items() if w <= 2]
    click.echo(f"  meeting it for 1 and 5 groups: {', '.join(meeting) or 'none'}")


@click.command()
@click.option("--chunks", default=100_000, show_default=True, help="Chunks in the corpus.")
@click.option("--queries", "count", default=200, show_default=True, help="Timed queries per row.")
@click.option("--k", default=20, show_default=True, help="Results per query.")
@click.option("--seed", default=7, show_default=True)
@click.option("--budget", default=60.0, show_default=True, help="Seconds at most per row.")
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False), help="Build/reuse here.")
def main(chunks: int, count: int, k: int, seed: int, budget: float, keep: Path | None) -> None:
    click.echo(f"CPU: {detect().describe()}")
    click.echo(f"chromadb {chromadb.__version__}, SQLite {sqlite3.sqlite_version}")
    started = time.perf_counter()
    corpus = make_corpus(chunks, seed)
    words = vocabulary(seed)
    queries = make_queries(corpus, words, count, seed)
    two = sum(len(g) == 2 for g in corpus.doc_groups)
    click.echo(f"corpus: {chunks:,} chunks, {len(corpus.doc_groups):,} docs ({two} in two groups)")
    shares = (f"{g} {corpus.member[:, j].mean():.1%}" for j, g in enumerate(ALL))
    click.echo("chunks per group: " + ", ".join(shares))
    with tempfile.TemporaryDirectory(prefix="boundary-access-") as tmp:
        root = keep or Path(tmp)
        build(root, corpus, words, seed)
        dense = dense_rows(root, corpus, queries, k, budget)
        keyword = keyword_rows(root, queries, k, budget)
    click.echo(f"\nk={k}. x raw: p95 / the block's no-filter p95; x all: / its every-group p95")
    heads = ("p50 ms", "p95 ms", "x raw", "x all", "o-f miss", "recall", "=exact")
    click.echo(f"{'measure':50s}{'n':>4s}" + "".join(f"{h:>9s}" for h in heads))
    table(dense)
    table(keyword)
    click.echo("\ntarget: access-filtered p95 <= 2x the no-filter p95, for 1 and 5 groups")
    verdict(dense)
    verdict(keyword)
    click.echo(f"wall time: {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
