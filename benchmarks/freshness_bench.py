"""Freshness: what seeing another process's writes costs the answering side.

The embedded Chroma client never reloads a collection's graph, so the vector
adapter looks (``ChangeWatch``: a ``stat`` and ``PRAGMA data_version`` on
``chroma.sqlite3``) before a query, at most once per ``REFRESH_S``, and
reopens its client after a change (``chatbot.adapters.freshness``). For each
corpus size (default 57 chunks, the sample corpus, and 20,000; 384-dim
vectors, every chunk in group ``everyone`` as in the sample corpus, so each
is kept in the main collection and in that group's) this measures, with the
real adapter in a temporary folder:

- query: ``ChromaVectorIndex.query`` p50/p95 (ms, k=20) with the watch never
  looking (the baseline), looking before every query (``refresh_s=0``), and
  at the default ``REFRESH_S``; ratios against the baseline's p95;
- look: ``ChangeWatch.changed()`` alone, microseconds, when it looks (a stat
  and the PRAGMA) and when the interval has not passed (a clock read);
- reopen: a writer process (kept running) upserts one chunk, then the next
  query looks, reopens, loads the graph from disk and answers, timed whole
  and in parts (closing the client; the new client's first query), against
  the warm baseline query (after a reload the watch rests for nine times
  what it took, so while a writer keeps writing, reloads take at most a
  tenth of the time: the rounds wait that out);
- cycles: resident memory (VmRSS) and open file descriptors over
  ``--cycles`` reopen-and-query cycles (Linux: read from /proc).

Run:    .venv/bin/python benchmarks/freshness_bench.py [--sizes 57,20000] [--cycles 200]
Smoke:  .venv/bin/python benchmarks/freshness_bench.py --sizes 57 --queries 30 --cycles 10
``--keep DIR`` builds into DIR or reuses its earlier build (same size and
``--seed``; the 20,000-chunk build takes minutes).

Each block closes its adapters before the next opens one: chromadb shares one
client system per folder in a process, and a reopen reads the files anew only
when no other client in the process holds that folder's system.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import chromadb
import click
import numpy as np

from chatbot.access import Audience
from chatbot.adapters.chroma_index import ChromaVectorIndex
from chatbot.adapters.chroma_session import RELOAD_PAUSE
from chatbot.adapters.freshness import REFRESH_S, ChangeWatch
from chatbot.domain import EVERYONE, Chunk
from chatbot.llm.cpu import detect

DIM, K, BATCH, COLLECTION = 384, 20, 5000, "freshness-bench"
READERS = Audience(frozenset({EVERYONE}))

# The other process: upserts one chunk through the adapter at each line read.
WRITER = """
import sys
from pathlib import Path
import numpy as np
from chatbot.adapters.chroma_index import ChromaVectorIndex
from chatbot.domain import EVERYONE, Chunk
index = ChromaVectorIndex(collection=sys.argv[2], path=Path(sys.argv[1]))
rng = np.random.default_rng(11)
index.count()  # opening a client commits too: before the reader opens its own
print("ready", flush=True)
for n, _ in enumerate(sys.stdin):
    v = rng.standard_normal(int(sys.argv[3]))
    c = Chunk(f"w{n}", f"written {n}", "w.md", "W", None, "", "en", "h", "f", n, groups=(EVERYONE,))
    index.upsert([c], [(v / np.linalg.norm(v)).tolist()])
    print("ok", flush=True)
"""


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def build(folder: Path, chunks: int, seed: int) -> list[list[float]]:
    """The index under ``folder`` (kept if a build of the same size and seed
    is there); returns query vectors near its chunks."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((max(1, chunks // 50), DIM)))
    topic = rng.integers(len(centres), size=chunks)
    vectors = unit(centres[topic] + rng.standard_normal((chunks, DIM)) * 0.04).astype(np.float32)
    queries = unit(centres[rng.integers(len(centres), size=1000)] + 0.3 / math.sqrt(DIM)).tolist()
    marker = folder.parent / "freshness_bench.json"
    want = f"{chunks} {seed}"
    if marker.exists() and marker.read_text() == want:
        click.echo(f"  reusing the index in {folder}")
        return queries
    index = ChromaVectorIndex(collection=COLLECTION, path=folder)
    start = time.perf_counter()
    for s in range(0, chunks, BATCH):
        part = [
            Chunk(f"c{i}", f"text {i}", f"d{i // 50}.md", "D", None, "", "en", "h", "f", i % 50)
            for i in range(s, min(chunks, s + BATCH))
        ]
        index.upsert(part, vectors[s : s + BATCH].tolist())
    index.close()
    marker.write_text(want)
    click.echo(f"  build: {chunks:,} chunks in {time.perf_counter() - start:.1f}s")
    return queries


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def timed(fn: Callable[[int], object], count: int) -> list[float]:
    """Milliseconds per call of ``fn(i)``, after 5 warm-up calls."""
    for i in range(5):
        fn(i)
    ms = []
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        ms.append((time.perf_counter() - start) * 1000)
    return ms


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def row(name: str, ms: list[float], base: float) -> None:
    p50, p95 = p50_p95(ms)
    click.echo(f"  {name:52s}{len(ms):5d}{p50:10.3f}{p95:10.3f}{p95 / base:9.2f}")


def queries_block(folder: Path, vectors: list, count: int) -> float:
    """Query latency with the watch off, at every query, at the default; the
    three adapters take turns, query by query (each first in turn), so a
    busy machine slows all three alike."""
    variants = (
        ("watch never looks (baseline)", math.inf),
        ("watch looks before every query", 0.0),
        (f"watch looks once per {REFRESH_S:g} s (default)", REFRESH_S),
    )
    indexes = [
        ChromaVectorIndex(collection=COLLECTION, path=folder, refresh_s=refresh)
        for _, refresh in variants
    ]
    ms: list[list[float]] = [[] for _ in variants]
    for i in range(count + 5):
        for j in range(len(variants)):  # each goes first in turn
            index, samples = indexes[(i + j) % 3], ms[(i + j) % 3]
            start = time.perf_counter()
            index.query(vectors[i % len(vectors)], K, audience=READERS)
            if i >= 5:  # after a warm-up
                samples.append((time.perf_counter() - start) * 1000)
    # Three clients on one folder share chromadb's system: closing the first
    # two warns that another still holds it, which is the point here.
    logging.getLogger("chatbot.adapters.chroma_session").setLevel(logging.ERROR)
    for index in indexes:
        index.close()
    logging.getLogger("chatbot.adapters.chroma_session").setLevel(logging.NOTSET)
    base = p50_p95(ms[0])[1]
    click.echo(f"  {'query (ms)':52s}{'n':>5s}{'p50':>10s}{'p95':>10s}{'x base':>9s}")
    for (name, _), samples in zip(variants, ms, strict=True):
        row(name, samples, base)
    return base


def look_block(folder: Path, count: int = 20_000) -> None:
    for name, interval in (("a look (stat + PRAGMA data_version)", 0.0), ("between looks", 3600.0)):
        watch = ChangeWatch(folder / "chroma.sqlite3", interval)
        watch.mark()
        start = time.perf_counter()
        for _ in range(count):
            watch.changed()
        each = (time.perf_counter() - start) / count * 1e6
        click.echo(f"  ChangeWatch.changed(), {name}: {each:.2f} µs")
        watch.close()


def reopen_block(folder: Path, vectors: list, rounds: int, base: float) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder), COLLECTION, str(DIM)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None and writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    index = ChromaVectorIndex(collection=COLLECTION, path=folder, refresh_s=0.0)
    for i in range(5):
        index.query(vectors[i], K, audience=READERS)
    written = np.random.default_rng(11)  # the writer's vectors, drawn alike
    whole: list[float] = []
    for n in range(rounds):
        v = written.standard_normal(DIM)
        writer.stdin.write("write\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "ok"
        start = time.perf_counter()
        hits = index.query((v / np.linalg.norm(v)).tolist(), K, audience=READERS)
        whole.append((time.perf_counter() - start) * 1000)
        assert hits[0].chunk.id == f"w{n}", "the new chunk was not found"
        # The watch rests for 9x the reload after one (see RELOAD_PAUSE).
        time.sleep(RELOAD_PAUSE * whole[-1] / 1000 + 0.01)
    writer.stdin.close()
    writer.wait(timeout=30)
    # The parts, with no other process: close, then the new client's first query.
    closing, first = [], []
    for n in range(rounds):
        start = time.perf_counter()
        index._session.reopen("benchmark")
        closing.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        index.query(vectors[n], K, audience=READERS)
        first.append((time.perf_counter() - start) * 1000)
    index.close()
    click.echo(f"  {'reopen (ms)':52s}{'n':>5s}{'p50':>10s}{'p95':>10s}{'x base':>9s}")
    row("query after another process wrote (look+reopen+load)", whole, base)
    row("  of which: closing the client", closing, base)
    row("  of which: the new client's first query", first, base)


def cycles_block(folder: Path, vectors: list, cycles: int) -> None:
    index = ChromaVectorIndex(collection=COLLECTION, path=folder)
    index.query(vectors[0], K, audience=READERS)
    marks = sorted({0, cycles // 4, cycles // 2, 3 * cycles // 4, cycles})
    seen: list[str] = []
    start = time.perf_counter()
    for n in range(cycles + 1):
        if n in marks:
            gc.collect()
            seen.append(f"{n}: {rss_mib():.0f} MiB, {open_fds()} fds")
        if n < cycles:
            index._session.reopen("benchmark")
            index.query(vectors[n % len(vectors)], K, audience=READERS)
    took = time.perf_counter() - start
    index.close()
    click.echo(f"  reopen+query cycles ({took:.1f}s): " + "; ".join(seen))


@click.command()
@click.option("--sizes", default="57,20000", show_default=True, help="Corpus sizes, in chunks.")
@click.option("--queries", "count", default=300, show_default=True, help="Timed queries per row.")
@click.option("--reopens", default=10, show_default=True, help="Timed reopens per size.")
@click.option("--cycles", default=200, show_default=True, help="Reopen cycles for RSS and fds.")
@click.option("--seed", default=7, show_default=True)
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False), help="Build/reuse here.")
def main(sizes: str, count: int, reopens: int, cycles: int, seed: int, keep: Path | None) -> None:
    started = time.perf_counter()
    click.echo(f"CPU: {detect().describe()}")
    click.echo(f"chromadb {chromadb.__version__}, SQLite {sqlite3.sqlite_version}, k={K}")
    for size in (int(s) for s in sizes.split(",")):
        click.echo(f"\n{size:,} chunks ({DIM}-dim, main + 'everyone' collection)")
        with tempfile.TemporaryDirectory(prefix="boundary-freshness-") as tmp:
            folder = (keep / str(size) if keep else Path(tmp)) / "chroma"
            folder.parent.mkdir(parents=True, exist_ok=True)
            vectors = build(folder, size, seed)
            base = queries_block(folder, vectors, count)
            look_block(folder)
            reopen_block(folder, vectors, reopens, base)
            cycles_block(folder, vectors, cycles)
    click.echo(f"\nwall time: {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
