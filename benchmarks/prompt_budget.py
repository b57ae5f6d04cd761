"""How prompt size drives latency on the LLM server: sizes the passage budget.

Sends the same question with 1..N passages of real sample-corpus text and
reports time to first token and total time per size, with ratios against the
one-passage baseline measured in the same run.

    .venv/bin/python benchmarks/prompt_budget.py --base-url http://127.0.0.1:8011/v1
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import click

from chatbot.adapters.openai_generator import OpenAIChatGenerator
from chatbot.answer.prompts import approx_tokens, build_messages
from chatbot.answer.question import Question
from chatbot.domain import Chunk, Passage


def sample_passages(corpus: Path, words: int = 170) -> list[Passage]:
    text = " ".join(
        " ".join(p.read_text(encoding="utf-8").split())
        for p in sorted(corpus.glob("*.md"))
        if p.name != "README.md"
    )
    tokens = text.split()
    out = []
    for i in range(0, len(tokens) - words, words):
        body = " ".join(tokens[i : i + words])
        chunk = Chunk(str(i), body, "sample.md", "Sample", None, "", "en", "", "", i)
        out.append(Passage(chunk, 0.0))
    return out


@click.command()
@click.option("--base-url", default="http://127.0.0.1:8011/v1", show_default=True)
@click.option("--sizes", default="1,2,4,6,8", show_default=True)
@click.option("--repeats", default=3, show_default=True)
def main(base_url: str, sizes: str, repeats: int) -> None:
    passages = sample_passages(Path("corpus"))
    gen = OpenAIChatGenerator(base_url, "EMPTY", max_tokens=48)
    question = "What does the evidence gate do?"
    base_ttft = base_total = None
    click.echo("passages  ~tokens  ttft_s  total_s  ttft_x  total_x")
    for n in [int(s) for s in sizes.split(",")]:
        ttfts, totals = [], []
        tokens = 0
        for r in range(repeats):
            # A different slice each time: vLLM's prefix cache must not hide prefill cost.
            start = (r * 7 + n) % max(1, len(passages) - n)
            messages = build_messages(
                Question.of(f"{question} (run {n}-{r})"), passages[start : start + n]
            )
            tokens = sum(approx_tokens(m.content) for m in messages)
            started = time.perf_counter()
            first = None
            for _delta in gen.stream(messages):
                if first is None:
                    first = time.perf_counter() - started
            totals.append(time.perf_counter() - started)
            ttfts.append(first or 0.0)
        ttft, total = statistics.median(ttfts), statistics.median(totals)
        base_ttft = base_ttft or ttft
        base_total = base_total or total
        click.echo(
            f"{n:8d}  {tokens:7d}  {ttft:6.2f}  {total:7.2f}  "
            f"{ttft / base_ttft:6.2f}  {total / base_total:7.2f}"
        )


if __name__ == "__main__":
    main()
