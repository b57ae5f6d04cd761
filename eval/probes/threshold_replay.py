"""Replay a finished run at stricter answerability thresholds, offline.

Each threshold is chosen on the *calibration* rows (``runs/calibration-rows.jsonl``,
written by ``chatbot-eval calibrate``) for a target recall, exactly as
``calibrate`` would; the run's records (on the *test* half) are then replayed:
a question whose recorded P(answerable) is below the threshold counts as
refused without an LLM call. Raising a threshold can only turn answers into
refusals, so the replay is exact for those questions; nothing is re-asked.

    .venv/bin/python -m eval.probes.threshold_replay runs/squad2-test300-pipeline --language en
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from chatbot.answer.answerability import FEATURES
from eval.calibrate import read_rows
from eval.fitting import choose_threshold, fit_logistic
from eval.runner import QUESTIONS_FILE, read_records


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--language", type=click.Choice(("en", "zh")), default="en", show_default=True)
@click.option(
    "--rows", type=click.Path(path_type=Path), default=Path("runs/calibration-rows.jsonl")
)
@click.option("--recalls", default="0.95,0.85,0.75,0.65,0.5", show_default=True)
def main(run_dir: Path, language: str, rows: Path, recalls: str) -> None:
    calibration_rows = [r for r in read_rows(rows)[0] if r.language == language]
    labels = [r.label for r in calibration_rows]
    model = fit_logistic([r.values for r in calibration_rows], labels, FEATURES)
    probabilities = [model.probability(r.values) for r in calibration_rows]
    records = [r for r in read_records(run_dir / QUESTIONS_FILE) if r["outcome"] != "error"]
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    print(f"{run_dir.name}: {len(answerable)} answerable, {len(unanswerable)} to refuse")
    used = _run_threshold(run_dir, language)
    if used is not None:
        print(f"(the run itself used threshold {used:.3f}; lower ones cannot be replayed)")
    print("min_recall  threshold  coverage  hallucination  LLM calls")
    for target in (float(v) for v in recalls.split(",")):
        threshold = choose_threshold(probabilities, labels, target)
        if used is not None and threshold < used:
            print(f"{target:10.2f}  {threshold:9.3f}  (below the run's threshold: not replayable)")
            continue

        kept = [r for r in records if _passes(r, threshold)]  # the rest: refused at the gate
        coverage = sum(r["outcome"] == "answer" for r in kept if r["answerable"]) / len(answerable)
        hallucination = sum(r["outcome"] == "answer" for r in kept if not r["answerable"]) / len(
            unanswerable
        )
        calls = sum(bool(r["llm_called"]) for r in kept)
        print(
            f"{target:10.2f}  {threshold:9.3f}  {coverage:8.1%}  {hallucination:13.1%}  {calls:9d}"
        )


def _passes(record: dict[str, Any], threshold: float) -> bool:
    """Whether the recorded P(answerable) clears ``threshold`` (records without
    one, refused before the model ran, keep their recorded outcome)."""
    probability = (record.get("evidence") or {}).get("answerability")
    return probability is None or probability >= threshold


def _run_threshold(run_dir: Path, language: str) -> float | None:
    """The threshold the run was made with, from the calibration next to its index."""
    import json

    from chatbot.answer.answerability import CALIBRATION_FILE, Calibration

    try:
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        folder = Path(meta["index"]["folder"])
    except (OSError, KeyError, TypeError, ValueError):
        return None
    path = folder / CALIBRATION_FILE
    if not path.is_file():
        return None
    model = Calibration.load(path).model_for(language)
    return None if model is None else model.threshold


if __name__ == "__main__":
    main()
