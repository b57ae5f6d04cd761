"""Refusal vs answer latency on the configured index and LLM server.

For each question of the own set (eval/datasets/own.jsonl, or a sample of it)
it times the full pipeline, and as a baseline measured in the same run, the
naive path that a plain RAG tutorial builds: retrieve, then always call the
LLM with the top passages. It prints p50/p95 per outcome kind and the ratio
of gate refusals to the naive call.

    .venv/bin/python benchmarks/answer_latency.py --limit 30
(needs `make ingest` and a running LLM server: `make run` or `chatbot-llm serve`)
"""

from __future__ import annotations

import statistics
import time

import click

from chatbot.compose import build_pipeline
from chatbot.domain import Answer, Refusal
from chatbot.prompts import build_messages
from chatbot.retrieval import retrieve
from chatbot.settings import Settings
from eval.loaders import load_own_set


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@click.command()
@click.option("--limit", default=30, show_default=True, help="Questions sampled from own set.")
@click.option("--seed", default=0, show_default=True)
def main(limit: int, seed: int) -> None:
    settings = Settings()
    pipeline = build_pipeline(settings)
    items = load_own_set(n=limit, seed=seed).items
    pipeline.answer("warm-up question about the sandbox")  # loads the embedder
    by_kind: dict[str, list[float]] = {"gate refusal": [], "llm refusal": [], "answer": []}
    naive: list[float] = []
    for item in items:
        started = time.perf_counter()
        outcome = pipeline.answer(item.question)
        elapsed = time.perf_counter() - started
        match outcome:
            case Answer():
                by_kind["answer"].append(elapsed)
            case Refusal(llm_called=False):
                by_kind["gate refusal"].append(elapsed)
            case Refusal():
                by_kind["llm refusal"].append(elapsed)
        started = time.perf_counter()
        passages = retrieve(
            item.question,
            pipeline.embedder,
            pipeline.vectors,
            pipeline.keywords,
            settings.retrieval,
        )[: settings.retrieval.max_passages]
        "".join(pipeline.generator.stream(build_messages(item.question, passages)))
        naive.append(time.perf_counter() - started)
    base = statistics.median(naive)
    click.echo(f"questions: {len(items)}  model: {pipeline.generator.model_name}")
    click.echo(f"{'kind':14s} {'n':>3s} {'p50 s':>8s} {'p95 s':>8s} {'p50/naive':>10s}")
    click.echo(
        f"{'naive (base)':14s} {len(naive):3d} {base:8.3f} {pct(naive, 0.95):8.3f} {1:10.3f}"
    )
    for kind, values in by_kind.items():
        if values:
            p50 = statistics.median(values)
            click.echo(
                f"{kind:14s} {len(values):3d} {p50:8.3f} {pct(values, 0.95):8.3f} "
                f"{p50 / base:10.3f}"
            )


if __name__ == "__main__":
    main()
