"""How many passage tokens the prompt needs: recall of the gold page against
prompt size, on the own set's answerable questions, with no LLM call.

Prefill (reading the prompt) is most of an answer's time on CPUs without bf16
hardware: about 75 tokens/s on two AVX2 cores with llama.cpp, so every 100
tokens of passages cost about 1.3 s there. This prints, for each passage
budget, the share of answerable questions whose gold page is among the shown
passages, the share of gate decisions unchanged against the default budget,
and the mean prompt size, so the budget can be chosen by measurement:

    .venv/bin/python benchmarks/prompt_recall.py --budgets 300,450,600,900

Needs `make ingest` (the sample corpus in the default index).
"""

from __future__ import annotations

import statistics

import click

from chatbot.answer.prompts import approx_tokens
from chatbot.compose import build_examiner, build_stores, limit_answering_threads
from chatbot.settings import Settings
from eval.loaders import load_own_set


@click.command()
@click.option("--budgets", default="300,450,600,900", help="Passage token budgets to compare.")
def main(budgets: str) -> None:
    settings = Settings()
    limit_answering_threads(settings)
    stores = build_stores(settings)
    items = [i for i in load_own_set().items if i.answerable]
    sizes = [int(b) for b in budgets.split(",")]
    baseline = settings.retrieval.passage_token_budget
    decisions: dict[int, list[bool]] = {}
    click.echo(f"{len(items)} answerable own-set questions; default budget {baseline}")
    columns = ("budget", "gold shown", "passages", "tokens", "gate same")
    header = " ".join(
        f"{name:>{width}s}" for name, width in zip(columns, (7, 11, 9, 7, 10), strict=True)
    )
    click.echo(header)
    for budget in sorted({*sizes, baseline}, reverse=True):
        retrieval = settings.retrieval.model_copy(update={"passage_token_budget": budget})
        examiner = build_examiner(
            settings.model_copy(update={"retrieval": retrieval}), stores, calibrated=True
        )
        hits, counts, tokens, passed = 0, [], [], []
        for item in items:
            found = examiner.examine(item.question)
            shown = {(p.chunk.source, p.chunk.page) for p in found.shown}
            gold = set(item.gold_locations())
            sources = {s for s, _ in shown}
            hit = any((s, p) in shown or (p is None and s in sources) for s, p in gold)
            hits += hit
            counts.append(len(found.shown))
            tokens.append(sum(approx_tokens(p.chunk.text) + 12 for p in found.shown))
            passed.append(found.refusal is None)
        decisions[budget] = passed
        same = sum(a == b for a, b in zip(passed, decisions[max(decisions)], strict=True))
        click.echo(
            f"{budget:7d} {hits / len(items):10.1%} {statistics.mean(counts):9.2f} "
            f"{statistics.mean(tokens):7.0f} {same / len(items):9.1%}"
        )


if __name__ == "__main__":
    main()
