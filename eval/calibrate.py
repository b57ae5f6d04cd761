"""Fit the answerability model (chatbot.answer.answerability) on held-out questions.

Only the *calibration* half of a dataset's articles is used (see
``eval.loaders.article_split``); evaluation runs report on the *test* half, so
no question, and no article, that shaped the model is ever scored.

For each question the real pipeline retrieves and measures the evidence,
with no LLM call. Questions that share no content word with any passage are
left out (they are always refused); the fixed thresholds are not applied,
because with a calibration the model replaces them. The label is 1 when the question is answerable
*and* a passage holding its answer is among those shown to the model: an
answerable question whose answer was not retrieved cannot be answered from
what is shown either. One logistic model is fitted per language, and its
threshold is the highest one that still keeps ``min_recall`` of the label-1
questions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from chatbot.answer.answerability import FEATURES, Calibration, LogisticModel, features
from chatbot.answer.pipeline import Pipeline
from chatbot.answer.question import Question
from chatbot.settings import Settings
from eval.fitting import auc, choose_threshold, fit_logistic
from eval.items import EvalSet
from eval.loaders import DatasetError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Row:
    language: str
    values: dict[str, float]
    label: int  # 1: answerable and its passage was shown
    answerable: bool  # the dataset's own label


def collect(eval_set: EvalSet, pipeline: Pipeline, progress: bool = True) -> tuple[list[Row], int]:
    """Feature rows for the questions that share a content word with the
    passages, and how many did not (refused whatever the model says)."""
    rows: list[Row] = []
    refused = 0
    for item in tqdm(eval_set.items, desc=f"gate {eval_set.name}", disable=not progress):
        found = pipeline.examine(item.question)
        if not found.evidence.matched:
            refused += 1
            continue
        shown_sources = {p.chunk.source for p in found.shown}
        holds = item.answerable and bool(shown_sources & set(item.gold_sources))
        rows.append(
            Row(
                found.evidence.language,
                features(Question.of(item.question), found.evidence),
                int(holds),
                item.answerable,
            )
        )
    return rows, refused


def _rates(model: LogisticModel, rows: Sequence[Row], probs: Sequence[float]) -> dict[str, Any]:
    """How ``model`` (whose probabilities for ``rows`` are ``probs``) does on
    the rows it was fitted on."""
    labels = [r.label for r in rows]

    def passed(select: Sequence[bool]) -> float | None:
        return _share([p for p, s in zip(probs, select, strict=True) if s], model.threshold)

    return {
        "rows": len(rows),
        "label_1": sum(labels),
        "auc": round(auc(probs, labels), 4),
        "passed_label_1": passed([bool(y) for y in labels]),
        "passed_label_0": passed([not y for y in labels]),
        "passed_unanswerable": passed([not r.answerable for r in rows]),
    }


def learned_floors(rows: Sequence[Row], language: str, floor_recall: float) -> dict[str, float]:
    """Fixed-gate thresholds that keep ``floor_recall`` of the label-1 rows:
    the (1 - floor_recall) quantile of their coverage and, for English (the
    packaged embedder is English-only), of their best dense similarity."""
    positives = [r.values for r in rows if r.label]
    if not positives:
        return {}
    cut = max(0, int((1.0 - floor_recall) * len(positives)) - 1)
    floors = {"min_coverage": sorted(v["coverage"] for v in positives)[cut]}
    if language != "zh":
        floors["min_dense"] = sorted(v["best_dense"] for v in positives)[cut]
    return {k: round(v, 4) for k, v in floors.items()}


TRADE_OFF_RECALLS = (0.80, 0.85, 0.88, 0.90, 0.92, 0.95, 0.97)


def trade_off(
    probs: Sequence[float], rows: Sequence[Row], recalls: Sequence[float] = TRADE_OFF_RECALLS
) -> list[dict[str, float | None]]:
    """What each recall level would cost: for the threshold keeping ``recall``
    of the label-1 rows, the share of answerable and of unanswerable rows the
    gate would let through. This is the table to choose ``min_recall`` from."""
    labels = [r.label for r in rows]
    answerable = [p for p, r in zip(probs, rows, strict=True) if r.answerable]
    unanswerable = [p for p, r in zip(probs, rows, strict=True) if not r.answerable]
    table = []
    for recall in recalls:
        threshold = choose_threshold(probs, labels, recall)
        table.append(
            {
                "recall": recall,
                "threshold": round(threshold, 4),
                "passed_answerable": _share(answerable, threshold),
                "passed_unanswerable": _share(unanswerable, threshold),
            }
        )
    return table


def _share(probs: Sequence[float], threshold: float) -> float | None:
    """Share of ``probs`` at or above ``threshold``; None when there are none."""
    return round(sum(p >= threshold for p in probs) / len(probs), 4) if probs else None


def fit(
    rows_by_language: dict[str, list[Row]],
    min_recall: float,
    sources: dict[str, Any],
    floor_recall: float | None = 0.99,
    recall_by_language: dict[str, float] | None = None,
) -> Calibration:
    """One model per language; with ``floor_recall``, also learned fixed-gate
    thresholds (see ``learned_floors``) that replace the configured ones.
    ``recall_by_language`` overrides ``min_recall`` for the languages it names
    (the trade-off differs: see ``trade_off``)."""
    recall_by_language = recall_by_language or {}
    unknown = sorted(set(recall_by_language) - set(rows_by_language))
    if unknown:
        raise DatasetError(
            f"--language-recall names {unknown}, but the rows hold only {sorted(rows_by_language)}"
        )
    models: dict[str, LogisticModel] = {}
    floors: dict[str, dict[str, float]] = {}
    report: dict[str, Any] = {}
    for language, rows in sorted(rows_by_language.items()):
        labels = [r.label for r in rows]
        if len(set(labels)) < 2:
            log.warning("%s: only one class among %d rows, no model fitted", language, len(rows))
            continue
        model = fit_logistic([r.values for r in rows], labels, FEATURES)
        probs = [model.probability(r.values) for r in rows]
        recall = recall_by_language.get(language, min_recall)
        threshold = choose_threshold(probs, labels, recall)
        model = LogisticModel(
            model.names, model.mean, model.scale, model.weights, model.bias, threshold
        )
        models[language] = model
        report[language] = _rates(model, rows, probs) | {
            "min_recall": recall,
            "trade_off": trade_off(probs, rows),
        }
        if floor_recall is not None:
            floors[language] = learned_floors(rows, language, floor_recall)
            report[language]["floors"] = floors[language]
        log.info("%s: %s", language, report[language])
    meta = {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "min_recall": min_recall,
        "min_recall_by_language": dict(sorted(recall_by_language.items())),
        "floor_recall": floor_recall,
        "fitted_on": sources,
        "calibration_fit": report,
        "note": "fitted on the calibration half of the articles only; report on --split test",
    }
    return Calibration(models, meta, floors)


def write_rows(
    path: Path, rows: Sequence[Row], sources: dict[str, Any], folders: Sequence[Path]
) -> None:
    """Save feature rows (first line: where they came from) for quick refits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        head = {"sources": sources, "folders": [str(f) for f in folders]}
        handle.write(json.dumps(head, ensure_ascii=False) + "\n")
        for row in rows:
            handle.write(json.dumps(asdict(row)) + "\n")


def read_rows(path: Path) -> tuple[list[Row], dict[str, Any], list[Path]]:
    """Rows saved by ``write_rows``; a missing or damaged file is a
    ``DatasetError`` that says to collect the rows again."""
    hint = "run `chatbot-eval calibrate` without --reuse-rows to collect them again"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        head = json.loads(lines[0])
        rows = [Row(**json.loads(line)) for line in lines[1:] if line.strip()]
        return rows, dict(head["sources"]), [Path(f) for f in head["folders"]]
    except FileNotFoundError as exc:
        raise DatasetError(f"no calibration rows at {path}; {hint}") from exc
    except (OSError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"calibration rows {path} are unreadable ({exc}); {hint}") from exc


def collect_calibration_rows(
    settings: Settings,
    squad2_limit: int | None,
    drcd_limit: int | None,
    drcd_indexed_fraction: float,
    seed: int,
    index_cache: Path,
    rows: Path,
) -> tuple[list[Row], dict[str, Any], list[Path]]:
    """Gate signals of the calibration halves (SQuAD 2.0 English, DRCD Chinese
    with part of the articles indexed; a limit of 0 skips a set), retrieved by
    an uncalibrated examiner and written to ``rows``: (rows, sources, index
    folders). No LLM is called."""
    from chatbot.compose import Stores, build_embedder, build_examiner
    from eval.indexing import build_context_index
    from eval.loaders import DRCD_PATH, SQUAD2_PATH, load_drcd, load_squad2

    embedder = build_embedder(settings)
    found_rows: list[Row] = []
    sources: dict[str, Any] = {}
    folders: list[Path] = []
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
    return found_rows, sources, folders


def language_recalls(pairs: Sequence[str]) -> dict[str, float]:
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
