"""``chatbot-train-reader``: rebuild the answerability reader from pinned data.

    chatbot-train-reader data       # SQuAD v1.1 train -> near-miss pairs (seeded)
    chatbot-train-reader train      # fine-tune MiniLM on them (resumes)
    chatbot-train-reader finetune   # continue on the SQuAD 2.0 calibration half
    chatbot-train-reader calibrate  # fit P(answerable) on the calibration half
    chatbot-train-reader evaluate   # closed-paragraph scores on a half
    chatbot-train-reader install    # copy a run's weights into chatbot/reader/
    chatbot-train-reader all        # every step above, in order

Everything is written under ``--work`` (default ``runs/training/reader``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from chatbot.logs import configure_logging
from eval.cli import index_cache_option
from eval.training import runs

log = logging.getLogger(__name__)
DEFAULT_WORK = Path("runs") / "training" / "reader"


# "a": the first half of the calibration articles (sorted by title), "b": the rest
fold_option = click.option(
    "--fold",
    type=click.Choice(runs.FOLDS),
    default="all",
    show_default=True,
    help="Use one fold of the half's articles only (to check a fine-tune on the other).",
)


@click.group()
@click.option(
    "--work",
    type=click.Path(path_type=Path),
    default=DEFAULT_WORK,
    show_default=True,
    help="Folder for pairs, checkpoints, logs and weights.",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def main(ctx: click.Context, work: Path, verbose: bool) -> None:
    """Rebuild the answerability reader (see `chatbot-train-reader all --help`).

    Example: chatbot-train-reader data --questions 20000 && chatbot-train-reader train
    """
    configure_logging(logging.DEBUG if verbose else logging.INFO)
    ctx.obj = work


@main.command()
@click.option(
    "--questions",
    default=20000,
    show_default=True,
    help="SQuAD v1.1 training questions to sample (each gives 2 pairs).",
)
@click.option("--seed", default=0, show_default=True)
@click.pass_obj
def data(work: Path, questions: int, seed: int) -> None:
    """Make the seeded near-miss training pairs from SQuAD v1.1 train.

    Example: chatbot-train-reader data --questions 20000 --seed 0
    """
    from eval.loaders import SQUAD2_PATH
    from eval.training import near_misses, squad_train

    wheel = squad_train.fetch_wheel(work.parent / "wheels")
    examples, articles = squad_train.load(wheel)
    if SQUAD2_PATH.is_file():  # the evaluation articles must not be trained on
        evaluated = {a["title"] for a in json.loads(SQUAD2_PATH.read_text())["data"]}
        shared = evaluated & {a.title for a in articles}
        if shared:
            raise click.ClickException(f"training articles overlap the evaluation set: {shared}")
    pairs, counts = near_misses.build(examples, articles, questions, seed)
    meta = {
        "source": f"{squad_train.WHEEL} ({squad_train.MEMBER}), sha256 {squad_train.WHEEL_SHA256}",
        "questions": questions,
        "seed": seed,
        "articles": len({p.title for p in pairs}),
    }
    path = runs.pairs_path(work, "pairs")
    runs.write_pairs(path, pairs, counts, meta)
    click.echo(f"{len(pairs)} pairs -> {path}")
    for kind, count in sorted(counts.items()):
        click.echo(f"  {kind:16} {count:6}  {count / len(pairs):6.1%}")


@main.command()
@click.option("--name", default="base", show_default=True, help="Run folder under --work.")
@click.option("--epochs", default=1.0, show_default=True)
@click.option("--batch-size", default=32, show_default=True)
@click.option("--learning-rate", default=5e-5, show_default=True)
@click.option("--limit", default=0, help="Train on the first N pairs only (0: all).")
@click.option("--seed", default=0, show_default=True)
@click.pass_obj
def train(
    work: Path,
    name: str,
    epochs: float,
    batch_size: int,
    learning_rate: float,
    limit: int,
    seed: int,
) -> None:
    """Fine-tune the reader on the pairs from `data`; re-run to resume.

    Example: chatbot-train-reader train --name base --epochs 1
    """
    from eval.training.trainer import TrainConfig

    pairs = runs.read_pairs(runs.pairs_path(work, "pairs"))
    if limit:
        pairs = pairs[:limit]
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed
    )
    meta = json.loads(runs.pairs_path(work, "pairs").with_suffix(".meta.json").read_text())
    runs.fit(work / name, pairs, config, started_from="", data={**meta, "limit": limit})


@main.command()
@click.option("--name", default="tuned", show_default=True, help="Run folder under --work.")
@click.option("--start", default="base", show_default=True, help="Run whose weights to start from.")
@click.option("--epochs", default=2.0, show_default=True)
@click.option("--learning-rate", default=2e-5, show_default=True)
@click.option("--seed", default=0, show_default=True)
@fold_option
@click.pass_obj
def finetune(
    work: Path, name: str, start: str, epochs: float, learning_rate: float, seed: int, fold: str
) -> None:
    """Continue training on the SQuAD 2.0 *calibration* half (never the test half).

    Example: chatbot-train-reader finetune --start base --name tuned
    """
    from chatbot.adapters.reader import WEIGHTS_FILE
    from eval.training.trainer import TrainConfig

    initial = work / start / WEIGHTS_FILE
    if not initial.is_file():
        raise click.ClickException(f"{initial} does not exist: run `chatbot-train-reader train`")
    pairs = runs.calibration_pairs("calibration", seed, fold)
    counts = Counter(p.kind for p in pairs)
    source = (
        "../shared/data/squad2/squad2-dev-split.json, calibration half of the articles "
        f"(eval.loaders.article_split), fold {fold}, each question with its own paragraph"
    )
    runs.write_pairs(runs.pairs_path(work, f"{name}-pairs"), pairs, counts, {"source": source})
    config = TrainConfig(
        epochs=epochs,
        learning_rate=learning_rate,
        seed=seed,
        init_from=str(initial),
        warmup=0.1,
        checkpoint_every=100,
    )
    runs.fit(
        work / name,
        pairs,
        config,
        started_from=start,
        data={"source": source, "kinds": dict(counts)},
    )


@main.command()
@click.option("--name", default="tuned", show_default=True, help="Run folder under --work.")
@click.option(
    "--recall",
    default=0.92,
    show_default=True,
    help="Share of gate-passing answerable questions (answer shown) to keep.",
)
@click.option(
    "--precision",
    default=0.97,
    show_default=True,
    help="Above the confident threshold, this share must be answerable (judge skipped).",
)
@index_cache_option
@click.pass_obj
def calibrate(work: Path, name: str, recall: float, precision: float, index_cache: Path) -> None:
    """Fit P(answerable) and the two thresholds on the calibration half.

    Example: chatbot-train-reader calibrate --name tuned --recall 0.92
    """
    from chatbot.adapters.reader import CONFIG_FILE, write_config
    from chatbot.answer.reading import Calibration
    from eval.loaders import SQUAD2_PATH, load_squad2
    from eval.training import evaluate as ev

    folder = work / name
    (folder / CONFIG_FILE).unlink(missing_ok=True)
    reader = runs.provisional(folder)
    eval_set = load_squad2(SQUAD2_PATH, split="calibration")
    pipeline = runs.retrieval_pipeline(eval_set, index_cache)
    scored, passage_rows, refused = ev.retrieved(reader, eval_set, pipeline, Calibration())
    calibration = ev.fit_calibration(passage_rows)
    rescored = [runs.rescore(r, calibration) for r in scored]
    reject = ev.threshold_for_recall(rescored, recall)
    confident = max(reject, ev.threshold_for_precision(rescored, precision))
    fitted = {
        "questions": len(eval_set.items),
        "gate_refused": refused,
        "gate_passed": len(scored),
        "passage_rows": len(passage_rows),
        "auc_holds": ev.aucs(rescored, "holds"),
        "auc_answerable": ev.aucs(rescored, "answerable"),
        "kept_holds": ev.share_at_least(rescored, reject, "holds", True),
        "kept_unanswerable": ev.share_at_least(rescored, reject, "answerable", False),
        "confident_share": ev.share_at_least(rescored, confident),
        "trade_off": ev.trade_off(rescored),
    }
    write_config(
        folder,
        calibration,
        run=name,
        started_from=runs.runs_behind(work, name)[0]["run"] if runs.runs_behind(work, name) else "",
        training=runs.runs_behind(work, name),
        thresholds={
            "reject_below": reject,
            "confident_above": confident,
            "recall": recall,
            "precision": precision,
        },
        fitted_on={"set": "squad2 calibration half (retrieved, gate-passing)", **fitted},
    )
    click.echo(
        json.dumps(
            {
                "calibration": asdict(calibration),
                "reject_below": reject,
                "confident_above": confident,
                **fitted,
            },
            indent=2,
        )
    )


@main.command()
@click.option("--name", default="tuned", show_default=True, help="Run folder under --work.")
@click.option(
    "--split", type=click.Choice(["calibration", "test"]), default="test", show_default=True
)
@index_cache_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the scores as JSON here [default: <run>/evaluate-<split>.json].",
)
@fold_option
@click.option("--closed-only", is_flag=True, help="Skip the retrieved setting (faster).")
@click.pass_obj
def evaluate(
    work: Path,
    name: str,
    split: str,
    index_cache: Path,
    out: Path | None,
    fold: str,
    closed_only: bool,
) -> None:
    """Closed-paragraph EM/F1/no-answer accuracy and retrieved-passage AUC on a half.

    Example: chatbot-train-reader evaluate --name tuned --split test
    """
    from eval.loaders import SQUAD2_PATH, load_squad2
    from eval.training import evaluate as ev

    folder = work / name
    reader = runs.provisional(folder)
    info = reader.info
    calibration = reader.calibration
    threshold = float(info.get("thresholds", {}).get("reject_below", 0.5))
    eval_set = runs.in_fold(load_squad2(SQUAD2_PATH, split=split), fold)
    closed = ev.closed(reader, eval_set, calibration)
    best = max((ev.squad_scores(closed, t / 20) for t in range(1, 20)), key=lambda r: r["f1"])
    result: dict[str, Any] = {
        "run": name,
        "split": split,
        "fold": fold,
        "threshold": threshold,
        "closed": {
            "auc_answerable": ev.aucs(closed),
            **ev.squad_scores(closed, threshold),
            "best_f1_over_thresholds": best,
        },
    }
    if not closed_only:
        pipeline = runs.retrieval_pipeline(eval_set, index_cache)
        scored, _, refused = ev.retrieved(reader, eval_set, pipeline, calibration)
        result["retrieved"] = {
            "gate_refused": refused,
            "gate_passed": len(scored),
            "auc_holds": ev.aucs(scored, "holds"),
            "auc_answerable": ev.aucs(scored),
            "kept_holds": ev.share_at_least(scored, threshold, "holds", True),
            "kept_unanswerable": ev.share_at_least(scored, threshold, "answerable", False),
        }
    suffix = split if fold == "all" else f"{split}-{fold}"
    target = out or folder / f"evaluate-{suffix}.json"
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    click.echo(json.dumps(result, indent=2))


@main.command()
@click.option("--name", default="tuned", show_default=True, help="Run folder under --work.")
@click.option(
    "--to",
    "target",
    type=click.Path(path_type=Path),
    default=None,
    help="Destination [default: the packaged chatbot/reader/].",
)
@click.pass_obj
def install(work: Path, name: str, target: Path | None) -> None:
    """Copy a calibrated run's weights and reader.json into the package.

    Example: chatbot-train-reader install --name tuned
    """
    import shutil

    from chatbot.adapters.reader import (
        CONFIG_FILE,
        PACKAGED_READER,
        WEIGHTS_FILE,
        read_config,
    )

    folder = work / name
    info = read_config(folder)  # checks the checksum
    if "thresholds" not in info:
        raise click.ClickException(
            f"{folder} is not calibrated: run `chatbot-train-reader calibrate --name {name}` first"
        )
    destination = target or PACKAGED_READER
    destination.mkdir(parents=True, exist_ok=True)
    for file in (WEIGHTS_FILE, CONFIG_FILE):
        shutil.copyfile(folder / file, destination / file)
    for extra in sorted(folder.glob("evaluate-*.json")):
        shutil.copyfile(extra, destination / extra.name)
    for run in sorted({info.get("started_from", ""), name} - {""}):
        log_file = work / run / "train.log"
        if log_file.is_file():  # the training logs travel with the weights
            shutil.copyfile(log_file, destination / f"train-{run}.log")
    click.echo(f"installed {folder} -> {destination}")


@main.command(name="all")
@click.option("--questions", default=20000, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.pass_context
def all_steps(ctx: click.Context, questions: int, seed: int) -> None:
    """data, train, finetune, calibrate, evaluate (both halves) and install,
    as the shipped reader was built. Resumes where a run was cut off.

    Example: chatbot-train-reader all
    """
    work: Path = ctx.obj
    if not runs.pairs_path(work, "pairs").is_file():
        ctx.invoke(data, questions=questions, seed=seed)
    from chatbot.adapters.reader import WEIGHTS_FILE

    if not (work / "base" / WEIGHTS_FILE).is_file():
        ctx.invoke(train, name="base", seed=seed)
    if not (work / "tuned" / WEIGHTS_FILE).is_file():
        ctx.invoke(finetune, name="tuned", start="base", seed=seed)
    ctx.invoke(calibrate, name="tuned")
    for split in ("calibration", "test"):
        ctx.invoke(evaluate, name="tuned", split=split)
    ctx.invoke(install, name="tuned")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
