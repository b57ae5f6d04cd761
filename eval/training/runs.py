"""Helpers behind ``chatbot-train-reader``: the pairs files, run records
(``run.json``), the calibration-half pairs and folds, and the retrieval
pipeline the reader is measured on. The commands live in ``eval.training.cli``."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click


def pairs_path(work: Path, name: str) -> Path:
    return work / f"{name}.jsonl"


def write_pairs(path: Path, pairs: list, counts: Counter, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(asdict(pair), ensure_ascii=False) + "\n")
    meta = {**meta, "pairs": len(pairs), "kinds": dict(sorted(counts.items()))}
    path.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def read_pairs(path: Path) -> list:
    from eval.training.near_misses import Pair

    if not path.is_file():
        raise click.ClickException(f"{path} does not exist: run `chatbot-train-reader data` first")
    with path.open(encoding="utf-8") as handle:
        return [Pair(**json.loads(line)) for line in handle if line.strip()]


def record_run(folder: Path, **facts: Any) -> None:
    """``run.json``: what a run was trained on, how, where and for how long."""
    import platform

    from chatbot.llm.cpu import detect

    facts = {
        "run": folder.name,
        "machine": detect().describe(),
        "python": platform.python_version(),
        **facts,
    }
    (folder / "run.json").write_text(
        json.dumps(facts, indent=2, default=str) + "\n", encoding="utf-8"
    )


def runs_behind(work: Path, name: str) -> list[dict[str, Any]]:
    """The run.json of ``name`` and of every run it started from, oldest first."""
    chain: list[dict[str, Any]] = []
    while name:
        path = work / name / "run.json"
        if not path.is_file():
            break
        facts = json.loads(path.read_text(encoding="utf-8"))
        chain.insert(0, facts)
        name = str(facts.get("started_from") or "")
    return chain


def fit(folder: Path, pairs: list, config: Any, started_from: str, data: dict) -> None:
    """Tokenize ``pairs``, train into ``folder`` (resuming) and record the run."""
    import time

    from transformers import AutoTokenizer

    from chatbot.adapters.st_embedder import resolve_model
    from eval.training.trainer import featurize
    from eval.training.trainer import train as run_training

    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model("all-MiniLM-L6-v2")[0]))
    features, dropped = featurize(tokenizer, pairs, config.max_length)
    click.echo(f"{len(features)} features ({dropped} answers cut off by truncation, dropped)")
    started = time.perf_counter()
    weights = run_training(features, folder, config, use_bf16(config.bf16))
    record_run(
        folder,
        started_from=started_from,
        data=data,
        features=len(features),
        dropped=dropped,
        config=asdict(config),
        wall_s_last_session=round(time.perf_counter() - started, 1),
    )
    click.echo(f"weights -> {weights}")


def use_bf16(wanted: bool) -> bool:
    from chatbot.llm.cpu import detect

    return wanted and detect().has_bf16


FOLDS = ("all", "a", "b")


def in_fold(eval_set: Any, fold: str) -> Any:
    """``eval_set`` with only the questions of one fold of its articles: ``a``
    the first half of the sorted titles, ``b`` the rest (to check whether a
    fine-tune on some articles carries over to others)."""
    from dataclasses import replace

    if fold == "all":
        return eval_set
    titles = sorted({i.context_ids[0].split("/")[1] for i in eval_set.items})
    chosen = set(titles[: len(titles) // 2] if fold == "a" else titles[len(titles) // 2 :])
    items = tuple(i for i in eval_set.items if i.context_ids[0].split("/")[1] in chosen)
    return replace(eval_set, items=items, name=f"{eval_set.name}-{fold}")


def calibration_pairs(split: str, seed: int, fold: str = "all") -> list:
    """SQuAD 2.0 pairs from one half: each question against its own paragraph
    (the real adversarial unanswerables included), for the final fine-tune."""
    import random

    from eval.loaders import SQUAD2_PATH, load_squad2
    from eval.training.near_misses import Pair

    eval_set = in_fold(load_squad2(SQUAD2_PATH, split=split), fold)
    texts = {c.id: c.text for c in eval_set.contexts}
    pairs = []
    for item in eval_set.items:
        context = texts[item.context_ids[0]]
        source = f"squad2-dev-{split}:{item.id}"
        if not item.answerable:
            pairs.append(Pair(item.question, context, None, -1, "squad2_unanswerable", source, ""))
            continue
        answer = item.answers[0]
        start = context.find(answer)
        if start >= 0:
            pairs.append(Pair(item.question, context, answer, start, "answerable", source, ""))
    random.Random(seed).shuffle(pairs)
    return pairs


def retrieval_pipeline(eval_set: Any, index_cache: Path) -> Any:
    """Retrieval and the gate as the app runs them (calibrated), without the
    reader under study and without an LLM."""
    from chatbot.compose import Stores, build_embedder, build_examiner
    from chatbot.settings import Settings
    from eval.indexing import build_context_index

    settings = Settings()
    embedder = build_embedder(settings)
    index = build_context_index(eval_set, settings, embedder, index_cache)
    stores = Stores(embedder, index.vectors, index.keywords)
    return build_examiner(settings, stores, index_path=index.folder)


def provisional(folder: Path) -> Any:
    """A reader over a run folder; writes a neutral reader.json if it has none."""
    from chatbot.adapters.reader import CONFIG_FILE, TransformerReader, write_config
    from chatbot.answer.reading import Calibration

    if not (folder / CONFIG_FILE).is_file():
        write_config(folder, Calibration(), run=folder.name)
    return TransformerReader(folder)


def rescore(row: Any, calibration: Any) -> Any:
    """``row`` with its probability under ``calibration``."""
    from dataclasses import replace

    return replace(row, probability=calibration.of(row.logit, row.margin))
