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

log = logging.getLogger(__name__)
DEFAULT_WORK = Path("runs") / "training" / "reader"


def _pairs_path(work: Path, name: str) -> Path:
    return work / f"{name}.jsonl"


def _write_pairs(path: Path, pairs: list, counts: Counter, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(asdict(pair), ensure_ascii=False) + "\n")
    meta = {**meta, "pairs": len(pairs), "kinds": dict(sorted(counts.items()))}
    path.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _read_pairs(path: Path) -> list:
    from eval.training.near_misses import Pair

    if not path.is_file():
        raise click.ClickException(f"{path} does not exist: run `chatbot-train-reader data` first")
    with path.open(encoding="utf-8") as handle:
        return [Pair(**json.loads(line)) for line in handle if line.strip()]


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
    path = _pairs_path(work, "pairs")
    _write_pairs(path, pairs, counts, meta)
    click.echo(f"{len(pairs)} pairs -> {path}")
    for kind, count in sorted(counts.items()):
        click.echo(f"  {kind:16} {count:6}  {count / len(pairs):6.1%}")


def _record_run(folder: Path, **facts: Any) -> None:
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


def _runs_behind(work: Path, name: str) -> list[dict[str, Any]]:
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


def _fit(folder: Path, pairs: list, config: Any, started_from: str, data: dict) -> None:
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
    weights = run_training(features, folder, config, _use_bf16(config.bf16))
    _record_run(
        folder,
        started_from=started_from,
        data=data,
        features=len(features),
        dropped=dropped,
        config=asdict(config),
        wall_s_last_session=round(time.perf_counter() - started, 1),
    )
    click.echo(f"weights -> {weights}")


def _use_bf16(wanted: bool) -> bool:
    from chatbot.llm.cpu import detect

    return wanted and detect().cpu_class in ("amx", "avx512_bf16")


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

    pairs = _read_pairs(_pairs_path(work, "pairs"))
    if limit:
        pairs = pairs[:limit]
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed
    )
    meta = json.loads(_pairs_path(work, "pairs").with_suffix(".meta.json").read_text())
    _fit(work / name, pairs, config, started_from="", data={**meta, "limit": limit})


FOLDS = ("all", "a", "b")


def _in_fold(eval_set: Any, fold: str) -> Any:
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


def _calibration_pairs(split: str, seed: int, fold: str = "all") -> list:
    """SQuAD 2.0 pairs from one half: each question against its own paragraph
    (the real adversarial unanswerables included), for the final fine-tune."""
    import random

    from eval.loaders import SQUAD2_PATH, load_squad2
    from eval.training.near_misses import Pair

    eval_set = _in_fold(load_squad2(SQUAD2_PATH, split=split), fold)
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


@main.command()
@click.option("--name", default="tuned", show_default=True, help="Run folder under --work.")
@click.option("--start", default="base", show_default=True, help="Run whose weights to start from.")
@click.option("--epochs", default=2.0, show_default=True)
@click.option("--learning-rate", default=2e-5, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--fold",
    type=click.Choice(FOLDS),
    default="all",
    show_default=True,
    help="Fine-tune on one fold of the calibration articles only (a check).",
)
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
    pairs = _calibration_pairs("calibration", seed, fold)
    counts = Counter(p.kind for p in pairs)
    source = (
        "../shared/data/squad2/squad2-dev-split.json, calibration half of the articles "
        f"(eval.loaders.article_split), fold {fold}, each question with its own paragraph"
    )
    _write_pairs(_pairs_path(work, f"{name}-pairs"), pairs, counts, {"source": source})
    config = TrainConfig(
        epochs=epochs,
        learning_rate=learning_rate,
        seed=seed,
        init_from=str(initial),
        warmup=0.1,
        checkpoint_every=100,
    )
    _fit(
        work / name,
        pairs,
        config,
        started_from=start,
        data={"source": source, "kinds": dict(counts)},
    )


def _retrieval_pipeline(eval_set: Any, index_cache: Path) -> Any:
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


def _provisional(folder: Path) -> Any:
    """A reader over a run folder; writes a neutral reader.json if it has none."""
    from chatbot.adapters.reader import CONFIG_FILE, TransformerReader, write_config
    from chatbot.reading import Calibration

    if not (folder / CONFIG_FILE).is_file():
        write_config(folder, Calibration(), run=folder.name)
    return TransformerReader(folder)


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
@click.option(
    "--index-cache",
    type=click.Path(path_type=Path),
    default=Path("runs/.index-cache"),
    show_default=True,
)
@click.pass_obj
def calibrate(work: Path, name: str, recall: float, precision: float, index_cache: Path) -> None:
    """Fit P(answerable) and the two thresholds on the calibration half.

    Example: chatbot-train-reader calibrate --name tuned --recall 0.92
    """
    from chatbot.adapters.reader import CONFIG_FILE, write_config
    from chatbot.reading import Calibration
    from eval.loaders import SQUAD2_PATH, load_squad2
    from eval.training import evaluate as ev

    folder = work / name
    (folder / CONFIG_FILE).unlink(missing_ok=True)
    reader = _provisional(folder)
    eval_set = load_squad2(SQUAD2_PATH, split="calibration")
    pipeline = _retrieval_pipeline(eval_set, index_cache)
    scored, passage_rows, refused = ev.retrieved(reader, eval_set, pipeline, Calibration())
    calibration = ev.fit_calibration(passage_rows)
    rescored = [_rescore(r, calibration) for r in scored]
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
        started_from=_runs_behind(work, name)[0]["run"] if _runs_behind(work, name) else "",
        training=_runs_behind(work, name),
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


def _rescore(row: Any, calibration: Any) -> Any:
    from dataclasses import replace

    from chatbot.reading import PassageReading, Span

    reading = PassageReading(Span(0, 0, row.margin, row.span), 0.0, row.logit)
    return replace(row, probability=calibration.probability(reading))


@main.command()
@click.option("--name", default="tuned", show_default=True, help="Run folder under --work.")
@click.option(
    "--split", type=click.Choice(["calibration", "test"]), default="test", show_default=True
)
@click.option(
    "--index-cache",
    type=click.Path(path_type=Path),
    default=Path("runs/.index-cache"),
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the scores as JSON here [default: <run>/evaluate-<split>.json].",
)
@click.option(
    "--fold",
    type=click.Choice(FOLDS),
    default="all",
    show_default=True,
    help="Score one fold of the half's articles only.",
)
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
    reader = _provisional(folder)
    info = reader.info
    calibration = reader._load()[2]
    threshold = float(info.get("thresholds", {}).get("reject_below", 0.5))
    eval_set = _in_fold(load_squad2(SQUAD2_PATH, split=split), fold)
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
        pipeline = _retrieval_pipeline(eval_set, index_cache)
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
    if not _pairs_path(work, "pairs").is_file():
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
