"""Run a system over an evaluation set, one JSON record per question.

A *system* is anything with ``answer(question) -> Answer | Refusal``: the
pipeline or the naive baseline. Each question's outcome is written as one line
of ``questions.jsonl`` as soon as it is known, so a run that is stopped (or
crashes) loses nothing: run it again with the same output folder and only the
questions without a record are asked.

A record holds everything the report and a risk reviewer need: the gold data,
the outcome (answer, refusal with reason, or error), citations, the passages
shown with their scores, the evidence-gate signals (also for questions the
gate refused, so thresholds can be swept offline), per-step timings, EM/F1 and
the independent grounding check. A ``GeneratorError`` on one question is
recorded as outcome ``error`` and the run goes on; any other exception stops
the run (it is a fault of the setup, not of one question).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from chatbot.domain import Answer, Outcome, Passage, Refusal
from chatbot.errors import GeneratorError
from eval.grounding import check_pipeline_answer
from eval.items import EvalItem
from eval.metrics import contains_gold, score_question, strip_citations

log = logging.getLogger(__name__)

QUESTIONS_FILE = "questions.jsonl"

ANSWER, REFUSAL, ERROR = "answer", "refusal", "error"


class System(Protocol):
    def answer(self, question: str) -> Outcome:
        """Answer ``question`` or refuse; raises only for faults (``GeneratorError``...)."""
        ...


@dataclass(frozen=True, slots=True)
class RunStats:
    total: int  # questions in the set
    already_done: int  # found in questions.jsonl when the run started
    asked: int  # answered, refused or errored in this run
    errors: int  # error records written in this run


# --- records --------------------------------------------------------------------------


def _passage_record(passage: Passage) -> dict[str, Any]:
    chunk = passage.chunk
    return {
        "id": chunk.id,
        "source": chunk.source,
        "page": chunk.page,
        "title": chunk.title,
        "label": chunk.context.label,
        "period": chunk.context.period,
        "fused": passage.fused_score,
        "dense": passage.dense_score,
        "keyword": passage.keyword_score,
        "text": chunk.text,
    }


def _item_fields(item: EvalItem, index: int) -> dict[str, Any]:
    return {
        "index": index,
        "id": item.id,
        "question": item.question,
        "category": item.category,
        "language": item.language,
        "answerable": item.answerable,
        "gold_answers": list(item.answers),
        "gold_sources": list(item.gold_sources),
        "gold_pages": list(item.gold_pages),
        "period": item.period,
        "other_period_answers": list(item.other_period_answers),
    }


def outcome_record(item: EvalItem, index: int, outcome: Outcome, wall_s: float) -> dict[str, Any]:
    """The JSON record of one question's outcome."""
    record = _item_fields(item, index)
    timings = outcome.timings
    evidence = outcome.evidence
    record.update(
        {
            "outcome": ANSWER if isinstance(outcome, Answer) else REFUSAL,
            "refusal_reason": None,
            "llm_called": True,
            "message": "",
            "detail": "",
            "answer": None,
            "model": None,
            "citations": [],
            "passages": [_passage_record(p) for p in outcome.passages],
            "evidence": None
            if evidence is None
            else {
                "language": evidence.language,
                "best_dense": evidence.best_dense,
                "coverage": evidence.coverage,
                "matched": list(evidence.matched),
                "missing": list(evidence.missing),
                "sentence_coverage": evidence.sentence_coverage,
                "dense_gap": evidence.dense_gap,
                "heaviest_missing": evidence.heaviest_missing,
                "answerability": evidence.answerability,
                "reader": evidence.reader,
            },
            "timings": {
                "retrieve": timings.retrieve_s,
                "read": timings.read_s,
                "generate": timings.generate_s,
                "verify": timings.verify_s,
                "total": timings.total_s,
            },
            "wall_s": wall_s,
            "grounding": None,
        }
    )
    match outcome:
        case Answer():
            full_answer = strip_citations(outcome.text)
            # EM/F1 score the judge's extracted short answer when there is one
            # (SQuAD golds are short spans); "contains gold" and the sentence
            # F1 below look at the whole answer the user reads.
            prediction: str | None = outcome.short_answer or full_answer
            record["answer"] = outcome.text
            record["short_answer"] = outcome.short_answer
            record["judge_called"] = outcome.judge_called
            record["model"] = outcome.model
            record["citations"] = [[c.number, c.source, c.page] for c in outcome.citations]
            record["cited_periods"] = sorted(
                {c.passage.chunk.context.period for c in outcome.citations} - {""}
            )
            if outcome.citations:  # uncited answers (the baseline) have nothing to check
                result = check_pipeline_answer(outcome)
                record["grounding"] = {
                    "grounded": result.grounded,
                    "sentences": len(result.sentences),
                    "supported": result.supported_sentences,
                    "checks": [asdict(check) for check in result.sentences],
                }
        case Refusal():
            prediction = None
            record["refusal_reason"] = outcome.reason.value
            record["llm_called"] = outcome.llm_called
            record["message"] = outcome.message
            record["detail"] = outcome.detail
    score = score_question(prediction, item.answers, item.answerable)
    shown_text = record["answer"] and strip_citations(record["answer"])
    record["scores"] = {
        "em": score.exact,
        "f1": score.f1,
        "sentence_f1": score_question(shown_text, item.answers, item.answerable).f1
        if shown_text
        else score.f1,
        "contains_gold": contains_gold(shown_text or prediction, item.answers)
        if item.answerable
        else None,
        "contains_other_period": contains_gold(shown_text or prediction, item.other_period_answers)
        if item.other_period_answers and (shown_text or prediction)
        else None,
    }
    return record


def error_record(item: EvalItem, index: int, exc: Exception, wall_s: float) -> dict[str, Any]:
    """The JSON record of a question whose generation failed."""
    record = _item_fields(item, index)
    record.update(
        {
            "outcome": ERROR,
            "refusal_reason": None,
            "llm_called": True,
            "message": f"{type(exc).__name__}: {exc}",
            "detail": "",
            "answer": None,
            "model": None,
            "citations": [],
            "passages": [],
            "evidence": None,
            "timings": None,
            "wall_s": wall_s,
            "grounding": None,
            "scores": None,
        }
    )
    return record


def ask(system: System, item: EvalItem, index: int) -> dict[str, Any]:
    """Ask one question and turn what happened into its record."""
    started = time.perf_counter()
    try:
        outcome = system.answer(item.question)
    except GeneratorError as exc:
        log.warning("%s: generator error: %s", item.id, exc)
        return error_record(item, index, exc, time.perf_counter() - started)
    return outcome_record(item, index, outcome, time.perf_counter() - started)


# --- the questions file ---------------------------------------------------------------


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every complete record of a questions file (a torn last line is ignored)."""
    if not path.is_file():
        return []
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break  # written half-way when the run was killed
            if line.strip():
                records.append(json.loads(line))
    return records


def _repair_tail(path: Path) -> None:
    """Cut a torn last line so the next append starts on a fresh line."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def _append(handle: Any, record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    handle.flush()


# --- the run --------------------------------------------------------------------------


def run_eval(
    items: Sequence[EvalItem],
    system: System,
    out_dir: Path,
    concurrency: int = 1,
    progress: bool = True,
) -> RunStats:
    """Ask every item without a record in ``out_dir/questions.jsonl``; append
    each record as soon as it is known. ``concurrency`` > 1 asks that many
    questions at once (for server-backed LLMs); records then land in
    completion order and carry ``index`` for sorting."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / QUESTIONS_FILE
    _repair_tail(path)
    done = {r["id"] for r in read_records(path)}
    todo = [(i, item) for i, item in enumerate(items) if item.id not in done]
    already = len(items) - len(todo)
    if already:
        log.info("resuming: %d of %d questions already recorded", already, len(items))
    errors = 0
    with (
        path.open("a", encoding="utf-8") as handle,
        tqdm(
            total=len(items),
            initial=already,
            unit="q",
            desc="evaluating",
            disable=None if progress else True,
        ) as bar,
    ):
        for record in _records(system, todo, concurrency):
            _append(handle, record)
            errors += record["outcome"] == ERROR
            bar.update(1)
    return RunStats(len(items), already, len(todo), errors)


def _records(
    system: System, todo: Sequence[tuple[int, EvalItem]], concurrency: int
) -> Iterable[dict[str, Any]]:
    if concurrency == 1:
        for index, item in todo:
            yield ask(system, item, index)
        return
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval") as pool:
        pending: set[Future[dict[str, Any]]] = {
            pool.submit(ask, system, item, index) for index, item in todo
        }
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                # Write what succeeded before re-raising a fault, so it is not redone.
                failed = [f for f in finished if f.exception() is not None]
                for future in finished:
                    if future.exception() is None:
                        yield future.result()
                if failed:
                    fault = failed[0].exception()
                    assert fault is not None
                    raise fault
        finally:
            for future in pending:
                future.cancel()
