"""One evaluation run, end to end: load the question set, start (or adopt)
the embedded LLM, index the set's contexts or corpus (cached), ask every
question through the pipeline or the naive baseline, record and report.
``chatbot-eval run`` (``eval.cli``) is the command-line face of ``run_set``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from chatbot.settings import Settings
from eval.items import EvalSet
from eval.loaders import DRCD_PATH, HKMA_SET_PATH, OWN_SET_PATH, SQUAD2_PATH

DEFAULT_PATHS = {
    "own": OWN_SET_PATH,
    "hkma": HKMA_SET_PATH,
    "squad2": SQUAD2_PATH,
    "drcd": DRCD_PATH,
}


def load_dataset(
    dataset: str,
    data: Path | None,
    limit: int | None,
    seed: int,
    drcd_fraction: float,
    rgb_negative: bool,
    split: str = "all",
) -> tuple[EvalSet, Path]:
    """The (seeded) question sample and the file it came from."""
    from eval.loaders import load_drcd, load_jsonl, load_rgb, load_squad2

    path = data if data is not None else DEFAULT_PATHS.get(dataset)
    if path is None:
        raise click.UsageError(f"--dataset {dataset} needs --data PATH (there is no default)")
    if dataset == "squad2":
        return load_squad2(path, limit, seed, split=split), path
    if dataset == "drcd":
        return load_drcd(path, limit, seed, indexed_fraction=drcd_fraction, split=split), path
    if dataset == "rgb":
        return load_rgb(path, limit, seed, negative_rejection=rgb_negative), path
    return load_jsonl(path, limit, seed), path  # own and jsonl share the format


def run_set(
    *,
    settings: Settings,
    dataset: str,
    eval_set: EvalSet,
    data_path: Path,
    limit: int | None,
    seed: int,
    system_name: str,
    options: dict[str, Any],
    corpus: Path,
    cache: Path,
    concurrency: int,
    out: Path,
) -> dict[str, Any]:
    from chatbot.compose import Stores, build_embedder, build_generator, build_pipeline
    from chatbot.llm.server import EmbeddedServer
    from eval.baseline import NaiveBaseline
    from eval.indexing import build_context_index, build_corpus_index
    from eval.report import write_report
    from eval.runinfo import end_session, git_state, settings_snapshot, start_session
    from eval.runner import System, run_eval

    server = EmbeddedServer(settings.embedded) if settings.llm.mode == "embedded" else None
    if server is not None:
        server.launch()  # starts (or adopts) in the background while we index
    try:
        embedder = build_embedder(settings)
        if eval_set.contexts:
            index = build_context_index(eval_set, settings, embedder, cache)
        else:
            index = build_corpus_index(corpus, settings, embedder, cache)
        base_url = server.wait() if server is not None else None
        generator = build_generator(settings, base_url)
        system: System
        if system_name == "baseline":
            system = NaiveBaseline(embedder, index.vectors, generator)
        else:
            stores = Stores(embedder, index.vectors, index.keywords)
            system = build_pipeline(
                settings, stores=stores, generator=generator, index_path=index.folder
            )
        meta = {
            "dataset": eval_set.name if dataset in ("drcd", "rgb", "jsonl") else dataset,
            "data_path": str(data_path.resolve()),
            "corpus": None if eval_set.contexts else str(corpus.resolve()),
            "limit": limit,
            "seed": seed,
            "n": len(eval_set.items),
            "options": options,
            "system": system_name,
            "model": generator.model_name,
            "embedder": embedder.name,
            "settings": settings_snapshot(settings),
            "index": {"folder": str(index.folder), "chunks": index.chunks, "cached": index.cached},
            "calibration": calibration_meta(settings, index.folder)
            if system_name == "pipeline"
            else None,
            "git": git_state(),
            "concurrency": concurrency,
        }
        meta = start_session(out, meta)
        started = time.perf_counter()
        asked: int | None = None
        try:
            stats = run_eval(eval_set.items, system, out, concurrency=concurrency)
            asked = stats.asked
        finally:
            end_session(out, meta, time.perf_counter() - started, asked)
    finally:
        if server is not None:
            server.stop()  # only a server this run started; an adopted one keeps running
    return write_report(out)


def calibration_meta(settings: Settings, index_folder: Path) -> dict[str, Any] | None:
    """Which answerability calibration the pipeline used, and its thresholds."""
    from chatbot.answer.answerability import Calibration, find_calibration

    if not settings.gate.answerability:
        return None
    path = find_calibration(index_folder, settings.gate.calibration_file)
    if path is None:
        return None
    calibration = Calibration.load(path)
    return {
        "file": str(path),
        "thresholds": {lang: m.threshold for lang, m in calibration.models.items()},
        "floors": calibration.floors,
        "fitted_on": calibration.meta.get("fitted_on"),
    }


def headline_text(summary: dict[str, Any], out: Path) -> str:
    """A few lines for the terminal; the report has the rest."""
    from eval.report import HTML_FILE, pct, rate_text, secs

    meta, counts, head = summary["meta"], summary["counts"], summary["headline"]
    reasons = ", ".join(f"{r} {n}" for r, n in counts["refusals_by_reason"].items()) or "none"
    refusal = summary["refusal"]
    grounding = summary["grounding"] or {}
    lines = [
        f"{meta.get('dataset')} · {meta.get('system')} · {counts['questions']} questions "
        f"({counts['answerable']} answerable, {counts['unanswerable']} to refuse) · "
        f"model {meta.get('model')}",
        f"  answers {counts['answers']} · refusals {counts['refusals']} ({reasons}) · "
        f"errors {counts['errors']} · LLM calls {counts['llm_calls']}",
        f"  coverage            {rate_text(summary['coverage'])}",
        f"  hallucination rate  {rate_text(summary['hallucination_rate'])}",
        f"  answered correct    {rate_text(summary['answer_quality']['answered_correct'])}",
        f"  refusal P / R / F1  {pct(refusal['precision']['value'])} / "
        f"{pct(refusal['recall']['value'])} / {pct(refusal['f1'])}",
        f"  grounded answers    {rate_text(grounding.get('answers_grounded'))}",
        f"  recall@4 / MRR      {pct(head['recall_at_4'])} / {pct(head['mrr'])}",
        f"  latency p50         answer {secs(head['latency_answer_p50'])} · "
        f"refusal {secs(head['latency_refusal_p50'])}",
        f"report: {out / HTML_FILE} (also report.md, summary.json, questions.jsonl)",
    ]
    return "\n".join(lines)
