"""A hand-built evaluation set and a scripted system with known outcomes.

Seven questions whose every number in the summary can be worked out by hand
(see ``tests/eval/test_summary.py``): three answerable, three that must be
refused, one whose generation fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chatbot.domain import (
    Answer,
    Chunk,
    Citation,
    Evidence,
    Outcome,
    Passage,
    Refusal,
    RefusalReason,
    Timings,
)
from chatbot.errors import GeneratorTimeoutError
from eval.items import ANSWERABLE, OFF_TOPIC, UNANSWERABLE, EvalItem
from eval.runinfo import write_meta

GATE = {
    "min_dense_score": 0.30,
    "min_dense_score_cjk": -1.0,
    "min_term_coverage": 0.60,
    "min_term_coverage_cjk": 0.50,
    "min_support": 0.5,
}

LAUNCH = "The GenA.I. Sandbox was launched by the HKMA and Cyberport in August 2024."
COHORT = "The first cohort had 15 use cases from 10 banks."
OTHER = "Banks must report GenAI incidents to the AI Governance Desk within 24 hours."


def chunk(source: str, text: str, page: int | None = 1) -> Chunk:
    return Chunk(f"{source}#{page}", text, source, source, page, "", "en", "h", "f", 0)


def passage(source: str, text: str, dense: float = 0.6, page: int | None = 1) -> Passage:
    return Passage(
        chunk(source, text, page), fused_score=0.03, dense_score=dense, keyword_score=4.0
    )


def evidence(coverage: float, dense: float = 0.6, language: str = "en") -> Evidence:
    return Evidence(language, dense, coverage, ("sandbox",), ("missing",) if coverage < 1 else ())


def answer(
    text: str, passages: tuple[Passage, ...], cited: tuple[int, ...], ev: Evidence
) -> Answer:
    return Answer(
        text=text,
        citations=tuple(Citation(n, passages[n - 1]) for n in cited),
        passages=passages,
        model="scripted",
        timings=Timings(retrieve_s=0.1, generate_s=2.0, verify_s=0.01),
        evidence=ev,
    )


def refusal(
    reason: RefusalReason, passages: tuple[Passage, ...], ev: Evidence | None, llm: bool
) -> Refusal:
    return Refusal(
        reason=reason,
        message="I cannot answer that from the documents.",
        passages=passages,
        detail="scripted",
        timings=Timings(
            retrieve_s=0.1, generate_s=1.5 if llm else 0.0, verify_s=0.01 if llm else 0.0
        ),
        llm_called=llm,
        evidence=ev,
    )


GOLD = passage("overview.pdf", LAUNCH)
COHORT_P = passage("overview.pdf", COHORT, page=2)
OTHER_P = passage("guidance.pdf", OTHER, dense=0.5)

ITEMS = (
    EvalItem("a1", "When was the Sandbox launched?", ("August 2024",), True, "en", ANSWERABLE,
             ("overview.pdf",), (1,)),
    EvalItem("a2", "Who launched the Sandbox?", ("HKMA and Cyberport",), True, "en", ANSWERABLE,
             ("overview.pdf",), (1,)),
    EvalItem("a3", "How many banks were in the first cohort?", ("10",), True, "en", ANSWERABLE,
             ("overview.pdf",), (2,)),
    EvalItem("u1", "How many GPUs does the centre have?", (), False, "en", UNANSWERABLE),
    EvalItem("u2", "Which ten banks took part?", (), False, "en", UNANSWERABLE),
    EvalItem("u3", "What is the weather tomorrow?", (), False, "en", OFF_TOPIC),
    EvalItem("e1", "When does the second cohort start?", ("2025",), True, "en", ANSWERABLE,
             ("overview.pdf",), (4,)),
)  # fmt: skip

OUTCOMES: dict[str, Outcome | Exception] = {
    # right, grounded, gold passage ranked first
    "a1": answer("The Sandbox was launched in August 2024 [1].", (GOLD, OTHER_P), (1,),
                 evidence(0.9)),
    # wrong and ungrounded (2023 is in no passage); gold passage ranked second
    "a2": answer("It was launched by the SFC in 2023 [1].", (OTHER_P, GOLD), (1,),
                 evidence(0.7)),
    # the verifier refused it; gold page never shown
    "a3": refusal(RefusalReason.UNSUPPORTED, (OTHER_P,), evidence(0.8), llm=True),
    # a hallucination, but grounded in what it cites
    "u1": answer("The first cohort had 15 use cases [1].", (COHORT_P,), (1,), evidence(0.65)),
    # gate refusals
    "u2": refusal(RefusalReason.NO_EVIDENCE, (COHORT_P,), evidence(0.5), llm=False),
    "u3": refusal(RefusalReason.NO_EVIDENCE, (OTHER_P,), evidence(0.1, dense=0.1), llm=False),
    "e1": GeneratorTimeoutError("the LLM server did not answer in time"),
}  # fmt: skip


class ScriptedSystem:
    """Implements ``eval.runner.System``: a fixed outcome per question id,
    optionally calling ``before`` first (to simulate a crash)."""

    def __init__(
        self,
        outcomes: Mapping[str, Outcome | Exception] = OUTCOMES,
        items: tuple[EvalItem, ...] = ITEMS,
        before: Callable[[int], None] | None = None,
    ) -> None:
        self.by_question = {i.question: outcomes[i.id] for i in items}
        self.asked: list[str] = []
        self.before = before

    def answer(self, question: str) -> Outcome:
        if self.before is not None:
            self.before(len(self.asked))
        self.asked.append(question)
        result = self.by_question[question]
        if isinstance(result, Exception):
            raise result
        return result


def meta(system: str = "pipeline", **extra: Any) -> dict[str, Any]:
    return {
        "dataset": "tiny",
        "data_path": "tiny.jsonl",
        "limit": None,
        "seed": 0,
        "n": len(ITEMS),
        "options": {},
        "system": system,
        "model": "scripted",
        "embedder": "hash-256",
        "settings": {"gate": dict(GATE), "retrieval": {"max_passages": 4}, "llm": {}},
        "sessions": [
            {"started_at": "2025-01-01T00:00:00+00:00", "ended_at": "2025-01-01T00:01:00+00:00",
             "wall_s": 60.0, "asked": len(ITEMS)}
        ],
        **extra,
    }  # fmt: skip


def write_run(out: Path, system: str = "pipeline", **extra: Any) -> Path:
    """A finished run of the scripted system in ``out`` (records + run.json)."""
    from eval.runner import run_eval

    run_eval(ITEMS, ScriptedSystem(), out, progress=False)
    write_meta(out, meta(system, **extra))
    return out
