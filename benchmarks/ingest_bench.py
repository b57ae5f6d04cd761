"""Ingestion throughput of real documents against the embedding-only limit.

The corpus is a copy of the shared HKMA annual report chapters (Markdown,
English and Traditional Chinese; ``--years`` of them). The limit: the same
chunks' texts embedded with the packaged model in one long stream of
batches, nothing else (what no ingestion can beat on this machine). Then a
real ``Ingestor.sync`` of the folder, once into the on-disk default (SQLite
FTS5 + Chroma on disk) and, with ``--postgres``, into PostgreSQL + a Chroma
server. Throughput ratio = ingestion chunks/s / limit chunks/s (target
>= 0.8). Where the time goes: the embedder and both indexes are wrapped in
timers, so the report splits the wall time into embedding, vector writes,
keyword and catalog writes, and the rest (parsing in the worker process,
chunking). ``--pool`` sets the texts per embedding pool
(``ingest.embed_queue``: files are embedded, and written, a pool at a time).

    .venv/bin/python benchmarks/ingest_bench.py --years 3 [--postgres] [--pool 256]
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click

from chatbot.adapters.chroma_index import ChromaVectorIndex
from chatbot.adapters.st_embedder import SentenceTransformerEmbedder
from chatbot.settings import Settings
from ingest import embed_queue
from ingest.chunking import Chunker
from ingest.isolation import limits_from, open_loader
from ingest.sync import Ingestor

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "hkma_annual_report_wmt25"


class Timed:
    """Wraps an object; calls of the named methods add their time to ``spent``."""

    def __init__(self, inner: Any, label: str, methods: tuple[str, ...], spent: dict[str, float]):
        self._inner, self._label, self._methods, self._spent = inner, label, methods, spent

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in self._methods or not callable(value):
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._spent[self._label] += time.perf_counter() - started

        return timed


def copy_corpus(years: int, into: Path) -> int:
    chosen = sorted(p for p in SHARED.iterdir() if p.is_dir())[-years:]
    count = 0
    for year in chosen:
        for path in year.glob("*.md"):
            target = into / year.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
            count += 1
    return count


def embedding_limit(
    embedder: SentenceTransformerEmbedder, corpus: Path, settings: Settings
) -> dict[str, float]:
    """Parse and chunk every file (timed apart), then embed all chunk texts in
    batches of the embedder's own size: the most ingestion could reach."""
    cfg = settings.ingest
    chunker = Chunker(embedder.token_length, cfg.chunk_tokens, cfg.chunk_overlap)
    started = time.perf_counter()
    texts: list[str] = []
    with open_loader(limits_from(cfg)) as loader:
        for path in sorted(corpus.rglob("*.md")):
            doc = loader.load(path, str(path.relative_to(corpus)))
            texts += [c.indexed_text() for c in chunker.chunk(doc)]
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    embedder.embed(texts)
    embed_s = time.perf_counter() - started
    return {"chunks": len(texts), "parse_chunk_s": parsed, "embed_s": embed_s}


@contextmanager
def stores(kind: str, root: Path) -> Iterator[tuple[Any, Any]]:
    with ExitStack() as stack:
        if kind == "disk":
            from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex

            yield (
                ChromaVectorIndex(collection="ingest", path=root / "chroma"),
                SqliteKeywordIndex(root / "keywords.sqlite3"),
            )
            return
        from chatbot.adapters.pg_keyword import PostgresKeywordIndex
        from eval.servers import chroma_server, postgres_server

        url = stack.enter_context(postgres_server())
        (root / "chroma").mkdir()
        host, port, _ = stack.enter_context(chroma_server(root / "chroma"))
        keywords = PostgresKeywordIndex(url, schema="ingest")
        stack.callback(keywords.close)
        yield ChromaVectorIndex(collection="ingest", backend="http", host=host, port=port), keywords


def one_ingestion(
    kind: str, embedder: SentenceTransformerEmbedder, corpus: Path, settings: Settings
) -> dict[str, float]:
    spent: dict[str, float] = defaultdict(float)
    with (
        tempfile.TemporaryDirectory(prefix="boundary-ingest-") as tmp,
        stores(kind, Path(tmp)) as (vectors, keywords),
    ):
        ingestor = Ingestor(
            embedder=Timed(embedder, "embed", ("embed",), spent),  # type: ignore[arg-type]
            vector_index=Timed(  # type: ignore[arg-type]
                vectors, "vector writes", ("upsert", "delete_ids", "relabel", "clear"), spent
            ),
            keyword_index=Timed(  # type: ignore[arg-type]
                keywords,
                "keyword+catalog",
                (
                    "upsert",
                    "delete_ids",
                    "relabel",
                    "record_document",
                    "forget_document",
                    "catalog",
                    "set_meta",
                    "get_meta",
                    "sources",
                    "ids_for_source",
                    "clear",
                ),
                spent,
            ),
            settings=settings.ingest,
        )
        started = time.perf_counter()
        report = ingestor.sync(corpus)
        wall = time.perf_counter() - started
    assert report.ok, report.summary()
    return {
        "chunks": report.chunks_written,
        "wall_s": wall,
        **{f"{k}_s": v for k, v in spent.items()},
        "parse, chunk and the rest_s": wall - sum(spent.values()),
    }


@click.command()
@click.option("--years", default=3, help="How many report years to ingest (newest first).")
@click.option("--postgres", is_flag=True, help="Also ingest into PostgreSQL + a Chroma server.")
@click.option(
    "--pool", type=int, default=None, help="Texts per embedding pool (default: ingest's own)."
)
@click.option("--out", type=click.Path(path_type=Path), default=None)
def main(years: int, postgres: bool, pool: int | None, out: Path | None) -> None:
    """Ingestion chunks/s against the embedding-only limit, and where the time goes."""
    if not SHARED.is_dir():
        click.echo(f"skipped: {SHARED} is absent")
        return
    if pool is not None:
        embed_queue.POOL_TEXTS = pool
    click.echo(f"embedding pool: {embed_queue.POOL_TEXTS} texts")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    cfg = settings.embedder
    embedder = SentenceTransformerEmbedder(cfg.model, batch_size=cfg.batch_size, device=cfg.device)
    embedder.embed(["warm the model up"])
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="boundary-corpus-") as tmp:
        corpus = Path(tmp)
        files = copy_corpus(years, corpus)
        limit = embedding_limit(embedder, corpus, settings)
        limit_rate = limit["chunks"] / limit["embed_s"]
        click.echo(
            f"{files} files, {limit['chunks']} chunks; embedding only: {limit['embed_s']:.1f}s "
            f"= {limit_rate:.1f} chunks/s (parse+chunk alone {limit['parse_chunk_s']:.1f}s)"
        )
        results["limit"] = {
            **limit,
            "chunks_per_s": limit_rate,
            "files": files,
            "pool": embed_queue.POOL_TEXTS,
        }
        runs: list[tuple[str, Callable[[], dict[str, float]]]] = [
            ("disk", lambda: one_ingestion("disk", embedder, corpus, settings))
        ]
        if postgres:
            runs.append(("postgres", lambda: one_ingestion("postgres", embedder, corpus, settings)))
        for name, run in runs:
            row = run()
            rate = row["chunks"] / row["wall_s"]
            row["chunks_per_s"] = rate
            row["ratio_to_limit"] = rate / limit_rate
            results[name] = row
            parts = ", ".join(
                f"{k[:-2]} {v:.1f}s"
                for k, v in row.items()
                if k.endswith("_s") and k not in ("wall_s", "chunks_per_s")
            )
            click.echo(
                f"[{name}] {row['chunks']} chunks in {row['wall_s']:.1f}s = {rate:.1f} chunks/s "
                f"= {rate / limit_rate:.2f}x the embedding-only limit ({parts})"
            )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
