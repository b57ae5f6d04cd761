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
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from chatbot.errors import BoundaryError
from chatbot.logs import configure_logging
from chatbot.settings import Settings
from eval.calibrate import language_recalls
from eval.loaders import (
    HKMA_CORPUS,
    REPO_ROOT,
    SPLITS,
)
from eval.session import headline_text, load_dataset, run_set

log = logging.getLogger(__name__)

EXIT_OK, EXIT_SOME_ERRORS, EXIT_FAILED = 0, 1, 2
DATASETS = ("own", "hkma", "squad2", "drcd", "rgb", "jsonl")


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


index_cache_option = click.option(
    "--index-cache",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("runs") / ".index-cache",
    show_default=True,
    help="Where per-dataset indexes (and their calibrations) are cached.",
)


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
        summary = run_set(
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
    from chatbot.answer.answerability import CALIBRATION_FILE
    from eval.calibrate import Row, collect_calibration_rows, fit, read_rows

    recall_by_language = language_recalls(language_recall)
    try:
        settings = Settings()
    except ValidationError as exc:
        _fail(f"invalid configuration:\n{exc}")
    folders: list[Path] = []
    try:
        if reuse_rows:
            found_rows, sources, folders = read_rows(rows)
        else:
            found_rows, sources, folders = collect_calibration_rows(
                settings, squad2_limit, drcd_limit, drcd_indexed_fraction, seed, index_cache, rows
            )
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


# --- report and compare ---------------------------------------------------------------


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
