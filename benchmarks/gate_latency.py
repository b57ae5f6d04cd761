"""How long a refusal without an LLM call takes: scope check, retrieval and both
gate steps (fixed thresholds, calibrated answerability model).

Runs every question of the own set against the configured index (`make ingest`
first) with no LLM server at all, and reports p50/p95 of:

* baseline: bare hybrid retrieval (embed, Chroma, FTS5, fusion), which any
  RAG bot pays before it can do anything;
* gate: the pipeline's ``examine`` (retrieval + passage selection + evidence
  measures + the calibrated model), i.e. the whole cost of a gate refusal;

and the ratio of the two, measured in the same run, ``--rounds`` times over.

    .venv/bin/python benchmarks/gate_latency.py --rounds 3
"""

from __future__ import annotations

import time

import click

from chatbot.access import PUBLIC
from chatbot.answer.question import Question
from chatbot.answer.retrieval import retrieve
from chatbot.answer.scope import out_of_scope
from chatbot.compose import build_examiner, build_stores
from chatbot.settings import Settings
from eval.loaders import load_own_set


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@click.command()
@click.option("--rounds", default=3, show_default=True, help="Passes over the question set.")
def main(rounds: int) -> None:
    settings = Settings()
    stores = build_stores(settings)
    pipeline = build_examiner(settings, stores)
    questions = [item.question for item in load_own_set().items]
    pipeline.examine(questions[0])  # load the embedder outside the timing
    bare: list[float] = []
    gate: list[float] = []
    refusals: list[float] = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            retrieve(
                Question.of(question),
                stores.embedder,
                stores.vectors,
                stores.keywords,
                settings.retrieval,
                audience=PUBLIC,
            )
            bare.append(time.perf_counter() - started)
            started = time.perf_counter()
            refused = out_of_scope(question) is not None
            if not refused:
                refused = pipeline.examine(question).refusal is not None
            elapsed = time.perf_counter() - started
            gate.append(elapsed)
            if refused:
                refusals.append(elapsed)
    ms = 1000.0
    print(f"{len(questions)} questions x {rounds} rounds")
    for label, values in (("baseline retrieval  ", bare), ("gate (all questions)", gate)):
        print(f"{label} p50 {pct(values, 0.5) * ms:7.1f} ms  p95 {pct(values, 0.95) * ms:7.1f} ms")
    print(
        f"gate refusals ({len(refusals)})   p50 {pct(refusals, 0.5) * ms:7.1f} ms  "
        f"p95 {pct(refusals, 0.95) * ms:7.1f} ms"
    )
    print(
        f"ratio gate/baseline  p50 {pct(gate, 0.5) / pct(bare, 0.5):.2f}x  "
        f"p95 {pct(gate, 0.95) / pct(bare, 0.95):.2f}x"
    )


if __name__ == "__main__":
    main()
