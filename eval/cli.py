"""``chatbot-eval``: offline hallucination evaluation for risk teams.

Three commands: ``run`` asks a question set (the own set about ``corpus/``,
SQuAD 2.0, DRCD, RGB or a plain JSONL file) and writes a report; ``report``
re-renders a run's report from its records; ``compare`` puts two runs'
headline numbers side by side. See ``chatbot-eval COMMAND --help``.

Exit status: 0 on success; 1 when the run finished but some questions failed
with a generator error (recorded, and left out of the rates); 2 when nothing
useful could be done (bad configuration, missing data, unreachable LLM).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from chatbot.errors import BoundaryError
from chatbot.logs import configure_logging
from chatbot.settings import Settings
from eval.items import EvalSet
from eval.loaders import (
    DRCD_PATH,
    HKMA_CORPUS,
    HKMA_SET_PATH,
    OWN_SET_PATH,
    REPO_ROOT,
    SPLITS,
    SQUAD2_PATH,
)

log = logging.getLogger(__name__)

EXIT_OK, EXIT_SOME_ERRORS, EXIT_FAILED = 0, 1, 2
DATASETS = ("own", "hkma", "squad2", "drcd", "rgb", "jsonl")
DEFAULT_PATHS = {
    "own": OWN_SET_PATH,
    "hkma": HKMA_SET_PATH,
    "squad2": SQUAD2_PATH,
    "drcd": DRCD_PATH,
}

_RUN_EXAMPLES = """\b
Examples:
  chatbot-eval run --dataset own --out runs/own-pipeline
  chatbot-eval run --dataset own --system baseline --out runs/own-baseline
  chatbot-eval run --dataset hkma --out runs/hkma-pipeline   # HKMA reports 2015-2024
  chatbot-eval run --dataset squad2 --limit 300 --seed 0 --out runs/squad2-300
  chatbot-eval run --dataset drcd --limit 200 --drcd-indexed-fraction 0.5 --out runs/drcd-ooc
  chatbot-eval run --dataset rgb --data rgb_en.json --rgb-negative-rejection --out runs/rgb-neg
  chatbot-eval run --dataset jsonl --data my-questions.jsonl --corpus /srv/policies --out runs/bank
  CHATBOT_LLM__MODE=remote CHATBOT_LLM__BASE_URL=http://gpu:8000/v1 \\
      chatbot-eval run --dataset squad2 --limit 300 --concurrency 8 --out runs/squad2-gpu

\b
Run it again with the same --out to resume: questions already recorded are
not asked again. Public data is read from ../shared/data by default.
"""


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_FAILED)


@click.group()
@click.option("-v", "--verbose", count=True, help="-v: log progress; -vv: debug.")
def main(verbose: int) -> None:
    """Evaluate how well Boundary keeps to its knowledge boundary.

    \b
    Examples:
      chatbot-eval run --dataset own --out runs/own
      chatbot-eval report runs/own
      chatbot-eval compare runs/own-baseline runs/own
    """
    configure_logging(verbose)


# --- run ------------------------------------------------------------------------------


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


def _run(
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
            "calibration": _calibration_meta(settings, index.folder)
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


index_cache_option = click.option(
    "--index-cache",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("runs") / ".index-cache",
    show_default=True,
    help="Where per-dataset indexes (and their calibrations) are cached.",
)


def _calibration_meta(settings: Settings, index_folder: Path) -> dict[str, Any] | None:
    """Which answerability calibration the pipeline used, and its thresholds."""
    from chatbot.answerability import Calibration, find_calibration

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


@main.command("run", epilog=_RUN_EXAMPLES)
@click.option("--dataset", type=click.Choice(DATASETS), required=True, help="Question set.")
@click.option(
    "--data",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Dataset file [default: eval/datasets/own.jsonl, ../shared/data/squad2/"
    "squad2-dev-split.json, ../shared/data/drcd/DRCD_dev.json; required for rgb and jsonl].",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Seeded sample of N.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option(
    "--system",
    "system_name",
    type=click.Choice(("pipeline", "baseline")),
    default="pipeline",
    show_default=True,
    help="Boundary's pipeline, or the naive retrieve-and-stuff baseline.",
)
@click.option(
    "--drcd-indexed-fraction",
    type=click.FloatRange(0.0, 1.0),
    default=1.0,
    show_default=True,
    help="DRCD: index only this share of articles; questions on the rest must be refused.",
)
@click.option(
    "--split",
    type=click.Choice(SPLITS),
    default="all",
    show_default=True,
    help="squad2/drcd: ask only the calibration or the held-out test half of the articles "
    "(split by article; every article is still indexed). Report on test.",
)
@click.option(
    "--rgb-negative-rejection",
    is_flag=True,
    help="RGB: index only the negative passages (every question must be refused).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Questions in flight at once (useful with a GPU vLLM server).",
)
@click.option(
    "--corpus",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="own/hkma/jsonl: corpus folder to index [default: the repository's corpus/ for "
    "own, ../shared/data/hkma_annual_report_wmt25 for hkma, CHATBOT_INGEST__CORPUS_DIR "
    "for jsonl].",
)
@index_cache_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Output folder (runs/NAME); an existing run there is resumed.",
)
def run_command(
    dataset: str,
    data: Path | None,
    limit: int | None,
    seed: int,
    system_name: str,
    drcd_indexed_fraction: float,
    split: str,
    rgb_negative_rejection: bool,
    concurrency: int,
    corpus: Path | None,
    index_cache: Path,
    out: Path,
) -> None:
    """Ask a question set, record every outcome, and write the report.

    Settings come from CHATBOT_* variables (and .env). With
    CHATBOT_LLM__MODE=embedded (the default) the embedded LLM server is
    started, or adopted when one is already healthy on its port.
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        _fail(f"invalid configuration:\n{exc}")
    options: dict[str, Any] = {}
    if dataset == "drcd":
        options["drcd_indexed_fraction"] = drcd_indexed_fraction
    if dataset == "rgb":
        options["rgb_negative_rejection"] = rgb_negative_rejection
    if dataset in ("squad2", "drcd"):
        if split != "all":
            options["split"] = split
    elif split != "all":
        raise click.UsageError("--split applies to squad2 and drcd only")
    if corpus is None:
        defaults = {"own": REPO_ROOT / "corpus", "hkma": HKMA_CORPUS}
        corpus = defaults.get(dataset, settings.ingest.corpus_dir)
        if not corpus.is_dir():
            _fail(f"corpus folder {corpus} does not exist: pass --corpus")
    try:
        eval_set, data_path = load_dataset(
            dataset, data, limit, seed, drcd_indexed_fraction, rgb_negative_rejection, split
        )
        if not eval_set.items:
            _fail(f"{data_path} has no questions")
        summary = _run(
            settings=settings,
            dataset=dataset,
            eval_set=eval_set,
            data_path=data_path,
            limit=limit,
            seed=seed,
            system_name=system_name,
            options=options,
            corpus=corpus,
            cache=index_cache,
            concurrency=concurrency,
            out=out,
        )
    except BoundaryError as exc:
        _fail(str(exc))
    click.echo(headline_text(summary, out))
    sys.exit(EXIT_SOME_ERRORS if summary["counts"]["errors"] else EXIT_OK)


# --- calibrate ------------------------------------------------------------------------


@main.command("calibrate")
@click.option(
    "--squad2-limit",
    type=click.IntRange(min=0),
    default=None,
    help="Seeded sample of the SQuAD 2.0 calibration half [default: all; 0 skips it].",
)
@click.option(
    "--drcd-limit",
    type=click.IntRange(min=0),
    default=None,
    help="Seeded sample of the DRCD calibration half [default: all; 0 skips it].",
)
@click.option(
    "--drcd-indexed-fraction",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="DRCD articles indexed; questions on the rest are the out-of-corpus examples.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option(
    "--min-recall",
    type=click.FloatRange(0.05, 1.0),
    default=0.85,
    show_default=True,
    help="Share of answerable calibration questions (answer shown) the gate must let through.",
)
@click.option(
    "--language-recall",
    "language_recall",
    multiple=True,
    metavar="LANG=RECALL",
    help="Per-language --min-recall, e.g. zh=0.88 (repeatable). Choose it from the "
    "trade-off table this command prints.",
)
@click.option(
    "--floor-recall",
    type=click.FloatRange(0.5, 1.0),
    default=0.99,
    show_default=True,
    help="Also learn the fixed gate's coverage/dense thresholds, keeping this share of "
    "answerable questions (answer shown).",
)
@click.option(
    "--no-floors",
    is_flag=True,
    help="Keep the configured fixed thresholds (CHATBOT_GATE__*) instead of learned ones.",
)
@index_cache_option
@click.option(
    "--rows",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("runs/calibration-rows.jsonl"),
    show_default=True,
    help="Feature rows are saved here; with --reuse-rows they are read back instead of "
    "retrieving again (to refit with another --min-recall in seconds).",
)
@click.option("--reuse-rows", is_flag=True, help="Fit from --rows without retrieving.")
@click.option(
    "--out-only", is_flag=True, help="Write only --out, not next to the datasets' indexes."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the calibration JSON here (e.g. chatbot/calibration/default.json "
    "for the packaged default). It is always stored next to each dataset's index.",
)
def calibrate_command(
    squad2_limit: int | None,
    drcd_limit: int | None,
    drcd_indexed_fraction: float,
    seed: int,
    min_recall: float,
    language_recall: tuple[str, ...],
    floor_recall: float,
    no_floors: bool,
    index_cache: Path,
    rows: Path,
    reuse_rows: bool,
    out_only: bool,
    out: Path | None,
) -> None:
    """Fit the answerability model on the calibration half of the articles.

    English from SQuAD 2.0, Traditional Chinese from DRCD with part of the
    articles indexed. No LLM is called. Evaluate afterwards with
    `chatbot-eval run ... --split test`.
    """
    from chatbot.answerability import CALIBRATION_FILE
    from chatbot.compose import Stores, build_embedder, build_examiner
    from eval.calibrate import Row, collect, fit, read_rows, write_rows
    from eval.indexing import build_context_index
    from eval.loaders import load_drcd, load_squad2

    recall_by_language = _language_recalls(language_recall)
    try:
        settings = Settings()
    except ValidationError as exc:
        _fail(f"invalid configuration:\n{exc}")
    folders: list[Path] = []
    try:
        if reuse_rows:
            found_rows, sources, folders = read_rows(rows)
        else:
            embedder = build_embedder(settings)
            found_rows, sources = [], {}
            sets = []
            if squad2_limit != 0:
                sets.append(load_squad2(SQUAD2_PATH, squad2_limit, seed, split="calibration"))
            if drcd_limit != 0:
                sets.append(
                    load_drcd(
                        DRCD_PATH,
                        drcd_limit,
                        seed,
                        indexed_fraction=drcd_indexed_fraction,
                        split="calibration",
                    )
                )
            for eval_set in sets:
                index = build_context_index(eval_set, settings, embedder, index_cache)
                folders.append(index.folder)
                stores = Stores(embedder, index.vectors, index.keywords)
                # the old calibration must not shape the rows a new one is fitted on
                pipeline = build_examiner(settings, stores, calibrated=False)
                collected, refused = collect(eval_set, pipeline)
                found_rows.extend(collected)
                sources[eval_set.name] = {
                    "questions": len(eval_set.items),
                    "no_shared_word": refused,
                    "seed": seed,
                    "index": str(index.folder),
                }
            write_rows(rows, found_rows, sources, folders)
        by_language: dict[str, list[Row]] = {}
        for row in found_rows:
            by_language.setdefault(row.language, []).append(row)
        calibration = fit(
            by_language,
            min_recall,
            sources,
            None if no_floors else floor_recall,
            recall_by_language,
        )
    except BoundaryError as exc:
        _fail(str(exc))
    if not calibration.models:
        _fail("no model could be fitted (each language needs both classes)")
    if out_only and out is None:
        _fail("--out-only needs --out")
    targets = [] if out_only else [folder / CALIBRATION_FILE for folder in folders]
    if out is not None:
        targets.append(out)
    for target in targets:
        calibration.save(target)
    for language, fitted in calibration.meta["calibration_fit"].items():
        table = fitted.pop("trade_off")
        click.echo(f"{language}: {fitted}")
        click.echo(f"  {'recall':>6}  {'threshold':>9}  {'answerable':>10}  {'unanswerable':>12}")
        for line in table:
            answerable, unanswerable = line["passed_answerable"], line["passed_unanswerable"]
            click.echo(
                f"  {line['recall']:>6.2f}  {line['threshold']:>9.4f}  "
                f"{'n/a' if answerable is None else f'{answerable:.1%}':>10}  "
                f"{'n/a' if unanswerable is None else f'{unanswerable:.1%}':>12}"
            )
        fitted["trade_off"] = table
    for target in targets:
        click.echo(f"wrote {target}")


def _language_recalls(pairs: Sequence[str]) -> dict[str, float]:
    """``("zh=0.88",)`` -> ``{"zh": 0.88}``, or a usage error naming the bad pair."""
    recalls: dict[str, float] = {}
    for pair in pairs:
        language, _, value = pair.partition("=")
        try:
            recall = float(value)
        except ValueError:
            recall = -1.0
        if not language.strip() or not 0.05 <= recall <= 1.0:
            raise click.BadParameter(
                f"{pair!r}: write LANG=RECALL with RECALL between 0.05 and 1, e.g. zh=0.88",
                param_hint="--language-recall",
            )
        recalls[language.strip()] = recall
    return recalls


# --- report and compare ---------------------------------------------------------------


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


@main.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
def report_command(run_dir: Path) -> None:
    """Re-render RUN_DIR's summary and report from its questions.jsonl.

    \b
    Example:
      chatbot-eval report runs/own-pipeline
    """
    from eval.report import write_report

    try:
        summary = write_report(run_dir)
    except BoundaryError as exc:
        _fail(str(exc))
    click.echo(headline_text(summary, run_dir))


@main.command("compare")
@click.argument("run_a", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("run_b", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the table to this Markdown file.",
)
def compare_command(run_a: Path, run_b: Path, out: Path | None) -> None:
    """Headline metrics of RUN_A and RUN_B side by side, with B − A deltas.

    \b
    Example:
      chatbot-eval compare runs/own-baseline runs/own-pipeline --out runs/own-compare.md
    """
    from eval.compare import compare, load_summary

    try:
        text = compare(load_summary(run_a), load_summary(run_b), run_a.name, run_b.name)
    except BoundaryError as exc:
        _fail(str(exc))
    click.echo(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
