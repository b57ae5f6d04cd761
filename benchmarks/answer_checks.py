"""Cost of the lexical steps after generation, replayed on recorded answers.

Reads the answers an evaluation run recorded (``runs/<name>/questions.jsonl``,
with the passages each answer was given) and times, per answer, the verifier
(``chatbot.answer.verify.verify``, the baseline: it ran before quoting existed) and
the quoting step (``quote_weak_sentences``), both on the same answers in the
same run. No LLM and no index are needed. Prints p50/p95 per step, their
ratio, and how many answers the quoting changed.

    .venv/bin/python benchmarks/answer_checks.py runs/drcd-test600-pipeline \
        runs/squad2-test600-pipeline
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import click

from chatbot.answer.quote import quote_weak_sentences
from chatbot.answer.verify import verify
from chatbot.domain import Chunk, Passage


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def passages_of(record: dict[str, object]) -> list[Passage]:
    out = []
    for i, raw in enumerate(record.get("passages") or []):  # type: ignore[attr-defined]
        chunk = Chunk(
            id=str(raw["id"]),
            text=str(raw["text"]),
            source=str(raw["source"]),
            title=str(raw.get("title", "")),
            page=raw.get("page"),
            section="",
            language="und",
            content_hash="",
            file_hash="",
            position=i,
        )
        out.append(Passage(chunk=chunk, fused_score=float(raw.get("fused") or 0.0)))
    return out


@click.command()
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option("--repeat", default=5, show_default=True, help="Timed passes over the answers.")
def main(runs: tuple[Path, ...], repeat: int) -> None:
    for run in runs:
        path = run / "questions.jsonl"
        if not path.is_file():
            click.echo(f"{run}: no questions.jsonl, skipped (run `chatbot-eval run` first)")
            continue
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        answers = [r for r in records if r.get("outcome") == "answer" and r.get("passages")]
        if not answers:
            click.echo(f"{run}: no recorded answers, skipped")
            continue
        prepared = [(r, passages_of(r)) for r in answers]
        verify_s: list[float] = []
        quote_s: list[float] = []
        changed = 0
        for round_ in range(repeat):
            for record, passages in prepared:
                started = time.perf_counter()
                verify(record["answer"], passages, 0.5, record["question"])
                middle = time.perf_counter()
                quoted = quote_weak_sentences(
                    record["answer"], passages, record["question"], record.get("short_answer")
                )
                ended = time.perf_counter()
                verify_s.append(middle - started)
                quote_s.append(ended - middle)
                if round_ == 0 and quoted.quoted:
                    changed += 1
        ms = 1000.0
        click.echo(
            f"{run.name}: {len(answers)} answers x {repeat}; quoting changed {changed}\n"
            f"  verify (baseline)  p50 {pct(verify_s, 0.5) * ms:.2f} ms  "
            f"p95 {pct(verify_s, 0.95) * ms:.2f} ms\n"
            f"  quote              p50 {pct(quote_s, 0.5) * ms:.2f} ms  "
            f"p95 {pct(quote_s, 0.95) * ms:.2f} ms\n"
            f"  ratio quote/verify (means) "
            f"{statistics.mean(quote_s) / statistics.mean(verify_s):.2f}x"
        )


if __name__ == "__main__":
    main()
