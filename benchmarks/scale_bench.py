"""Scale: hybrid retrieval with the gate, disk and memory, from 10k chunks
up, on the on-disk default (SQLite FTS5 + Chroma PersistentClient) and on
the replica set-up (PostgreSQL + a Chroma server), in one run.

Text is real: sentences of the shared HKMA annual reports (English and
Traditional Chinese), SQuAD and DRCD passages, recombined into chunks of
about 120 words, so term statistics look like a bank's corpus; 10% of the
chunks are restricted to one group. Vectors are **synthetic** (384-d,
clustered, unit length): embedding 100k chunks with the packaged model
would take over 30 minutes on two cores and HNSW cost does not depend on
what the vectors mean. Questions are real SQuAD/DRCD questions, embedded
the same synthetic way.

Each size is reached by adding to the index of the size before, so the
figures are one corpus growing. Ratios: each point against the smallest
size of the same backend (how cost grows), and PostgreSQL + server against
the on-disk default at the same size.

    .venv/bin/python benchmarks/scale_bench.py --sizes 10000,30000,100000 --out runs/scale.json

Needs ../shared/data (skips otherwise) and, for the second backend, the
PostgreSQL server binaries and the ``chroma`` CLI (``make setup``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click
import numpy as np

from chatbot.access import Audience
from chatbot.adapters import keyword_stages, sqlite_fts
from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex
from chatbot.compose import Stores, build_examiner
from chatbot.domain import EVERYONE, Chunk
from chatbot.settings import Settings
from eval.load import rss_mb

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DIM = 384
CENTRES = 256
WORDS = 120
BATCH = 2000
RESTRICTED = "credit-risk"


class SyntheticEmbedder:
    """Text -> a unit vector near one of ``CENTRES`` cluster centres chosen by
    the text's hash (stands in for the packaged model; see the docstring)."""

    name = "synthetic-384"

    def __init__(self) -> None:
        rng = np.random.default_rng(16)
        centres = rng.normal(size=(CENTRES, DIM)).astype(np.float32)
        self._centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)

    def vector(self, text: str) -> list[float]:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        v = self._centres[seed % CENTRES] + 0.6 * rng.normal(size=DIM).astype(np.float32) / 20
        return (v / np.linalg.norm(v)).tolist()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(t) for t in texts]

    def token_length(self, text: str) -> int:
        return len(text.split())


def sentences() -> list[str]:
    """Every sentence of the shared data, English and Chinese."""
    found: list[str] = []
    for path in sorted((SHARED / "hkma_annual_report_wmt25").rglob("*.md")):
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", text) if len(s.strip()) > 20]
    for name in ("squad2/squad2-dev-split.json", "drcd/DRCD_dev.json"):
        data = json.loads((SHARED / name).read_text(encoding="utf-8"))
        for article in data["data"]:
            for para in article["paragraphs"]:
                found += [
                    s.strip()
                    for s in re.split(r"(?<=[.!?。！？])\s*", para["context"])
                    if len(s.strip()) > 10
                ]
    return found


def questions(count: int, rng: random.Random) -> list[str]:
    asked: list[str] = []
    for name in ("squad2/squad2-dev-split.json", "drcd/DRCD_dev.json"):
        data = json.loads((SHARED / name).read_text(encoding="utf-8"))
        asked += [qa["question"] for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]]
    return rng.sample(asked, count)


def make_chunks(start: int, stop: int, pool: list[str], rng: random.Random) -> list[Chunk]:
    out = []
    for i in range(start, stop):
        words: list[str] = []
        parts = []
        while len(words) < WORDS:
            sentence = pool[rng.randrange(len(pool))]
            parts.append(sentence)
            words += sentence.split() if " " in sentence else list(sentence[:60])
        text = " ".join(parts)
        source = f"shelf-{i // 2000:03d}/doc-{i // 40:06d}.md"
        groups = (RESTRICTED,) if rng.random() < 0.1 else (EVERYONE,)
        out.append(
            Chunk(
                id=f"s{i:07d}",
                text=text,
                source=source,
                title=f"Document {i // 40}",
                page=(i % 40) + 1,
                section="",
                language="zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text[:200]) else "en",
                content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
                file_hash=f"f{i // 40}",
                position=i % 40,
                groups=groups,
            )
        )
    return out


_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scale-vectors")


def write_batch(
    stores: Stores,
    start: int,
    stop: int,
    pool: list[str],
    rng: random.Random,
    spent: dict[str, float],
) -> None:
    """Chunks ``start``..``stop`` into both indexes, the vector write on a
    second thread while the keyword write runs (each mostly waits on its
    server or on SQLite, so building a large index takes about the longer
    of the two, not their sum). ``spent`` adds up where the time went."""
    t0 = time.perf_counter()
    part = make_chunks(start, stop, pool, rng)
    vectors = stores.embedder.embed([c.text for c in part])
    spent["make_s"] += time.perf_counter() - t0

    def write_vectors() -> float:
        began = time.perf_counter()
        stores.vectors.upsert(part, vectors)
        return time.perf_counter() - began

    pending = _WRITER.submit(write_vectors)
    t1 = time.perf_counter()
    stores.keywords.upsert(part)
    spent["keyword_write_s"] += time.perf_counter() - t1
    spent["vector_write_s"] += pending.result()


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def postgres_rss_mb() -> float:
    out = subprocess.run(["ps", "-u", "postgres", "-o", "rss="], capture_output=True, text=True)
    return sum(int(x) for x in out.stdout.split() if x.isdigit()) / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def backend(name: str, root: Path) -> Iterator[tuple[Stores, Settings, dict[str, Any]]]:
    """The two stores of one backend, empty, and how to size them."""
    from chatbot.adapters.chroma_index import ChromaVectorIndex

    with ExitStack() as stack:
        info: dict[str, Any] = {}
        if name == "sqlite+chroma-disk":
            from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex

            folder = root / "disk"
            vectors = ChromaVectorIndex(collection="scale", path=folder / "chroma")
            keywords: Any = SqliteKeywordIndex(folder / "keywords.sqlite3")
            settings = Settings(_env_file=None, index={"path": folder})  # type: ignore[call-arg]
            info["disk"] = lambda: {
                "keyword_bytes": folder_bytes(folder) - folder_bytes(folder / "chroma"),
                "vector_bytes": folder_bytes(folder / "chroma"),
            }
            info["memory"] = lambda: {"app_rss_mb": rss_mb(os.getpid())}
        else:
            from chatbot.adapters.pg_keyword import PostgresKeywordIndex
            from eval.servers import chroma_server, postgres_server

            url = stack.enter_context(postgres_server())
            chroma_folder = root / "chroma-server"
            chroma_folder.mkdir()
            host, port, chroma_pid = stack.enter_context(chroma_server(chroma_folder))
            vectors = ChromaVectorIndex(collection="scale", backend="http", host=host, port=port)
            keywords = PostgresKeywordIndex(url, schema="scale")
            stack.callback(keywords.close)
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                index={"path": root / "unused", "backend": "http", "keyword_backend": "postgres"},
            )

            def pg_bytes() -> int:
                import psycopg

                with psycopg.connect(url) as conn:
                    row = conn.execute(
                        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'scale' AND c.relkind = 'r'"
                    ).fetchone()
                return int(row[0] or 0) if row else 0

            info["disk"] = lambda: {
                "keyword_bytes": pg_bytes(),
                "vector_bytes": folder_bytes(chroma_folder / "data"),
            }
            info["memory"] = lambda: {
                "app_rss_mb": rss_mb(os.getpid()),
                "chroma_server_rss_mb": rss_mb(chroma_pid),
                "postgres_rss_mb": postgres_rss_mb(),
            }
        yield Stores(SyntheticEmbedder(), vectors, keywords), settings, info


def timed_pass(stores: Stores, settings: Settings, asked: list[str]) -> dict[str, float]:
    examiner = build_examiner(settings, stores, calibrated=False)
    everyone = Audience(frozenset({EVERYONE}))
    embedder = stores.embedder
    for q in asked[:10]:  # warm caches and connections
        examiner.examine(q, everyone)
    hybrid, keyword, dense = [], [], []
    for q in asked:
        t0 = time.perf_counter()
        examiner.examine(q, everyone)
        t1 = time.perf_counter()
        stores.keywords.search(q, 20, audience=everyone)
        t2 = time.perf_counter()
        stores.vectors.query(embedder.embed([q])[0], 20, audience=everyone)
        t3 = time.perf_counter()
        hybrid.append((t1 - t0) * 1000)
        keyword.append((t2 - t1) * 1000)
        dense.append((t3 - t2) * 1000)
    return {
        "hybrid_gate_p50_ms": statistics.median(hybrid),
        "hybrid_gate_p95_ms": percentile(hybrid, 0.95),
        "keyword_p50_ms": statistics.median(keyword),
        "keyword_p95_ms": percentile(keyword, 0.95),
        "dense_p95_ms": percentile(dense, 0.95),
    }


@contextmanager
def all_terms() -> Iterator[None]:
    """SQLite keyword search without leaving out the terms in over half the
    chunks (``sqlite_fts.worthless_terms``): the baseline for that pruning."""
    saved = sqlite_fts.PRUNE_FROM_CHUNKS
    sqlite_fts.PRUNE_FROM_CHUNKS = 2**62
    try:
        yield
    finally:
        sqlite_fts.PRUNE_FROM_CHUNKS = saved


@contextmanager
def one_stage() -> Iterator[None]:
    """Keyword search with every question in one stage (no
    first stage through the rarest terms, ``keyword_stages``): the
    baseline for the two-stage search, on either backend."""
    saved = keyword_stages.RARE_TERMS
    keyword_stages.RARE_TERMS = 2**62
    try:
        yield
    finally:
        keyword_stages.RARE_TERMS = saved


def top_ids(stores: Stores, asked: list[str]) -> list[list[str]]:
    everyone = Audience(frozenset({EVERYONE}))
    return [[h.chunk.id for h in stores.keywords.search(q, 20, audience=everyone)] for q in asked]


def keeps_top10(full: list[list[str]], other: list[list[str]]) -> float:
    """Mean share of ``full``'s top 10 that ``other`` also returns."""
    kept = [len(set(a[:10]) & set(b)) / len(a[:10]) for a, b in zip(full, other, strict=True) if a]
    return statistics.mean(kept) if kept else 1.0


def measure(stores: Stores, settings: Settings, asked: list[str]) -> dict[str, float]:
    row = timed_pass(stores, settings, asked)
    if not isinstance(stores.keywords, SqliteKeywordIndex):
        with one_stage():
            single = timed_pass(stores, settings, asked)
            one = top_ids(stores, asked)
        row.update({f"one_stage_{k}": v for k, v in single.items()})
        row["two_stage_keeps_top10"] = keeps_top10(one, top_ids(stores, asked))
        return row
    with all_terms(), one_stage():
        base = timed_pass(stores, settings, asked)
        full = top_ids(stores, asked)
    with one_stage():
        single = timed_pass(stores, settings, asked)
        pruned = top_ids(stores, asked)
    row.update({f"all_terms_{k}": v for k, v in base.items()})
    row.update({f"one_stage_{k}": v for k, v in single.items()})
    row["pruned_keeps_top10"] = keeps_top10(full, pruned)
    row["two_stage_keeps_top10"] = keeps_top10(pruned, top_ids(stores, asked))
    return row


@click.command()
@click.option("--sizes", default="10000,30000,100000", help="Chunk counts, ascending.")
@click.option("--queries", default=200, help="Questions timed at each size.")
@click.option(
    "--backends",
    default="sqlite+chroma-disk,postgres+chroma-server",
    help="Which set-ups to measure (comma-separated).",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="JSON results file.")
def main(sizes: str, queries: int, backends: str, out: Path | None) -> None:
    """Retrieval latency, disk and memory as the corpus grows, per backend."""
    if not SHARED.is_dir():
        click.echo(f"skipped: {SHARED} is absent")
        return
    counts = [int(x) for x in sizes.split(",")]
    rng = random.Random(16)
    pool = sentences()
    asked = questions(queries, rng)
    click.echo(f"{len(pool)} sentences, {len(asked)} questions; sizes {counts}")
    results: dict[str, list[dict[str, Any]]] = {}
    for name in backends.split(","):
        results[name] = []
        root = Path(tempfile.mkdtemp(prefix="boundary-scale-"))
        try:
            with backend(name, root) as (stores, settings, info):
                built = 0
                chunk_rng = random.Random(15)
                for count in counts:
                    t0 = time.perf_counter()
                    spent = {"make_s": 0.0, "vector_write_s": 0.0, "keyword_write_s": 0.0}
                    for start in range(built, count, BATCH):
                        write_batch(
                            stores, start, min(count, start + BATCH), pool, chunk_rng, spent
                        )
                    write_s = time.perf_counter() - t0
                    added = count - built
                    built = count
                    row: dict[str, Any] = {
                        "chunks": count,
                        "write_chunks_per_s": added / write_s if write_s else 0.0,
                        **spent,
                        **measure(stores, settings, asked),
                        **info["disk"](),
                        **info["memory"](),
                    }
                    row["bytes_per_100k"] = (
                        (row["keyword_bytes"] + row["vector_bytes"]) * 100_000 / count
                    )
                    results[name].append(row)
                    if out is not None:  # after every size: a long run's points survive
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_text(json.dumps(results, indent=2), encoding="utf-8")
                    click.echo(
                        f"[{name}] {count:>8} chunks: hybrid+gate p50 "
                        f"{row['hybrid_gate_p50_ms']:.1f} ms "
                        f"p95 {row['hybrid_gate_p95_ms']:.1f} ms "
                        f"(keyword p95 {row['keyword_p95_ms']:.1f}, dense p95 "
                        f"{row['dense_p95_ms']:.1f}); write {row['write_chunks_per_s']:.0f} "
                        f"chunks/s; disk {row['bytes_per_100k'] / 2**20:.0f} MiB per 100k; "
                        f"RSS {row['app_rss_mb']:.0f} MiB"
                    )
                    click.echo(
                        f"    writing: making chunks and vectors {row['make_s']:.0f} s, vector "
                        f"writes {row['vector_write_s']:.0f} s, keyword writes "
                        f"{row['keyword_write_s']:.0f} s (the two writes overlap)"
                    )
                    if "all_terms_keyword_p95_ms" in row:
                        click.echo(
                            f"    with every term (baseline): hybrid+gate p95 "
                            f"{row['all_terms_hybrid_gate_p95_ms']:.1f} ms, keyword p50/p95 "
                            f"{row['all_terms_keyword_p50_ms']:.1f}/"
                            f"{row['all_terms_keyword_p95_ms']:.1f} ms; pruned/full keyword "
                            f"p95 {row['keyword_p95_ms'] / row['all_terms_keyword_p95_ms']:.2f}x; "
                            f"pruned keeps {row['pruned_keeps_top10']:.1%} of the full top 10"
                        )
                    if "one_stage_keyword_p95_ms" in row:
                        keyword_ratio = row["keyword_p95_ms"] / row["one_stage_keyword_p95_ms"]
                        hybrid_ratio = (
                            row["hybrid_gate_p95_ms"] / row["one_stage_hybrid_gate_p95_ms"]
                        )
                        click.echo(
                            f"    in one stage (baseline): hybrid+gate p95 "
                            f"{row['one_stage_hybrid_gate_p95_ms']:.1f} ms, keyword p50/p95 "
                            f"{row['one_stage_keyword_p50_ms']:.1f}/"
                            f"{row['one_stage_keyword_p95_ms']:.1f} ms; two-stage/one-stage "
                            f"keyword p95 {keyword_ratio:.2f}x, hybrid+gate p95 "
                            f"{hybrid_ratio:.2f}x; two stages keep "
                            f"{row['two_stage_keeps_top10']:.1%} of the one-stage top 10"
                        )
        finally:
            shutil.rmtree(root, ignore_errors=True)
    click.echo("\nratios")
    for name, rows in results.items():
        base = rows[0]["hybrid_gate_p95_ms"]
        for row in rows:
            click.echo(
                f"  {name} p95 at {row['chunks']} / at {rows[0]['chunks']}: "
                f"{row['hybrid_gate_p95_ms'] / base:.2f}x"
            )
    names = list(results)
    if len(names) == 2:
        for a, b in zip(results[names[0]], results[names[1]], strict=True):
            click.echo(
                f"  {names[1]} / {names[0]} p95 at {a['chunks']}: "
                f"{b['hybrid_gate_p95_ms'] / a['hybrid_gate_p95_ms']:.2f}x"
            )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2), encoding="utf-8")
        click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
