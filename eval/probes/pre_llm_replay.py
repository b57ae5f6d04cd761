"""Replay a finished run up to the first LLM call, to show that a change left
every decision before it alone.

For each recorded question the current pipeline is asked again with a
generator that stops the question at its first LLM call. A question refused
before the LLM must be refused again for the same reason, with the same
passages shown; a question that reached the LLM must reach it again, with the
same passages in the same order. Nothing is generated, so this takes minutes
where the run took an hour. Runs on an open corpus (squad2, drcd) are replayed
from the cached index of their contexts; runs on a corpus folder (own, hkma,
jsonl) from a fresh index of that folder built with today's ingestion.

    .venv/bin/python -m eval.probes.pre_llm_replay runs/squad2-test600-reader
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from chatbot.domain import Refusal
from chatbot.protocols import ChatMessage
from eval.items import EvalSet
from eval.runner import QUESTIONS_FILE, read_records


class _Stop(Exception):
    """Raised at the first LLM call, with the prompt it was given."""

    def __init__(self, prompt: str) -> None:
        super().__init__("stopped at the first LLM call")
        self.prompt = prompt


class _StopAtFirstCall:
    model_name = "stop-at-first-call"

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        raise _Stop(messages[-1].content)
        yield ""  # pragma: no cover - makes this a generator function


def _same_prompt_passages(prompt: str, texts: Sequence[str]) -> bool:
    """The prompt numbers exactly these passage texts, in this order."""
    at = 0
    for number, text in enumerate(texts, start=1):
        found = prompt.find(f"[{number}] (", at)
        if found < 0 or prompt.find(text, found) < 0:
            return False
        at = found + 1
    return prompt.find(f"[{len(texts) + 1}] (", at) < 0


def _load(meta: dict[str, Any]) -> EvalSet:
    """The run's question sample, re-drawn by ``eval.session.load_dataset``
    from what ``run.json`` recorded (the kind is recovered from the recorded
    name and options: drcd and rgb runs are named after their files)."""
    from eval.session import load_dataset

    options = meta.get("options") or {}
    name = str(meta["dataset"])
    if name == "squad2" or name.startswith("drcd"):
        kind = "squad2" if name == "squad2" else "drcd"
    elif "rgb_negative_rejection" in options:
        kind = "rgb"
    else:
        kind = "jsonl"  # own, hkma and plain JSONL sets share the format
    eval_set, _ = load_dataset(
        kind,
        Path(meta["data_path"]),
        meta.get("limit"),
        meta["seed"],
        options.get("drcd_indexed_fraction", 1.0),
        bool(options.get("rgb_negative_rejection", False)),
        options.get("split", "all"),
    )
    return eval_set


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
def main(run_dir: Path) -> None:
    import json

    from chatbot.compose import Stores, build_embedder, build_pipeline
    from chatbot.settings import Settings
    from eval.indexing import build_context_index, build_corpus_index

    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    settings = Settings()
    eval_set = _load(meta)
    embedder = build_embedder(settings)
    cache = Path(meta["index"]["folder"]).parent
    if eval_set.contexts:
        index = build_context_index(eval_set, settings, embedder, cache)
    else:
        index = build_corpus_index(Path(meta["corpus"]), settings, embedder, cache)
    pipeline = build_pipeline(
        settings,
        stores=Stores(embedder, index.vectors, index.keywords),
        generator=_StopAtFirstCall(),
        index_path=index.folder,
    )
    tally: Counter[str] = Counter()
    for record in read_records(run_dir / QUESTIONS_FILE):
        if record["outcome"] == "error":
            continue
        before_llm = record["outcome"] == "refusal" and not record["llm_called"]
        recorded = [p["id"] for p in record["passages"]]
        try:
            outcome = pipeline.answer(record["question"])
        except _Stop as stop:
            kind = "reached the LLM again" if not before_llm else "CHANGED: now reaches the LLM"
            tally[kind] += 1
            if before_llm:
                click.echo(
                    f"{record['id']}: {kind} (was {record['refusal_reason']}: "
                    f"{record['detail'][:160]})"
                )
            texts = [p["text"] for p in record["passages"]]
            if not _same_prompt_passages(stop.prompt, texts):
                tally["CHANGED: other passages in the prompt"] += 1
            continue
        if isinstance(outcome, Refusal) and before_llm:
            same = outcome.reason.value == record["refusal_reason"]
            kind = "refused again, same reason" if same else "CHANGED: other refusal reason"
        else:
            kind = "CHANGED: now refused before the LLM"
        tally[kind] += 1
        if kind.startswith("CHANGED"):
            now = outcome.reason.value if isinstance(outcome, Refusal) else "an answer"
            click.echo(f"{record['id']}: {kind} ({record['refusal_reason']} -> {now})")
        if [p.id for p in outcome.passages] != recorded:
            tally["CHANGED: other passages shown"] += 1
    for kind, count in sorted(tally.items()):
        click.echo(f"{count:5d}  {kind}")


if __name__ == "__main__":
    main()
