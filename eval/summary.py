"""Turn a run's per-question records into every number the report shows.

Pure functions over the records of ``questions.jsonl`` (see ``eval.runner``)
and the run's metadata; the metrics themselves come from ``eval.metrics``,
``eval.grounding`` and ``eval.sweep``. Rates are reported with their counts
and 95% Wilson intervals.

Questions whose generation failed (outcome ``error``) are faults, not
outcomes: they are counted, and left out of every rate, so the rates describe
what the system did when it worked. A run with errors says so at the top of
its report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from eval.gate_curve import sweep_section
from eval.grounding import GroundingResult, SentenceCheck, grounding_summary
from eval.items import UNCOVERED_PERIOD, EvalItem, Level, location_key
from eval.metrics import (
    Rate,
    contains_gold,
    coverage,
    hallucination_rate,
    hit_at_k,
    latency_summary,
    mean_defined,
    rate,
    rate_dict,
    recall_at_k,
    reciprocal_rank,
    refusal_scores,
    squad_summary,
    strip_citations,
)
from eval.runner import ANSWER, ERROR, REFUSAL

Record = Mapping[str, Any]

RECALL_KS = (1, 4)
STAGES = ("retrieve", "generate", "verify", "total")
VERIFIER_REASONS = frozenset({"unsupported", "no_valid_citation"})

# (key, label, which direction is better, unit) of the numbers compared across runs.
HEADLINE: tuple[tuple[str, str, str, str], ...] = (
    ("questions", "questions", "", "count"),
    ("errors", "errors (excluded from rates)", "down", "count"),
    ("coverage", "coverage: answerable questions answered", "up", "rate"),
    ("hallucination_rate", "hallucination rate: unanswerable questions answered", "down", "rate"),
    ("answered_correct", "answered answerable containing a gold answer", "up", "rate"),
    ("answerable_em", "answerable EM (refusal scores 0)", "up", "rate"),
    ("answerable_f1", "answerable F1 (refusal scores 0)", "up", "rate"),
    ("answered_f1", "F1 of answered answerable questions", "up", "rate"),
    (
        "answerable_correct_cited",
        "answerable answered correctly, citing the gold source/page",
        "up",
        "rate",
    ),
    ("overall_em", "SQuAD 2.0 overall EM", "up", "rate"),
    ("overall_f1", "SQuAD 2.0 overall F1", "up", "rate"),
    ("refusal_precision", "refusal precision", "up", "rate"),
    ("refusal_recall", "refusal recall", "up", "rate"),
    ("refusal_f1", "refusal F1", "up", "rate"),
    ("answers_grounded", "answers with every sentence supported by its citations", "up", "rate"),
    ("sentences_supported", "answer sentences supported", "up", "rate"),
    ("verifier_pass_rate", "pipeline verifier pass rate", "", "rate"),
    ("recall_at_1", "retrieval recall@1 (gold source)", "up", "rate"),
    ("recall_at_4", "retrieval recall@4 (gold source)", "up", "rate"),
    ("mrr", "retrieval MRR (gold source)", "up", "rate"),
    ("llm_calls", "questions that reached the LLM", "", "count"),
    ("latency_answer_p50", "answer latency p50", "down", "seconds"),
    ("latency_answer_p95", "answer latency p95", "down", "seconds"),
    ("latency_refusal_p50", "refusal latency p50", "down", "seconds"),
    ("latency_refusal_p95", "refusal latency p95", "down", "seconds"),
    ("latency_gate_refusal_p95", "refusal without an LLM call, p95", "down", "seconds"),
)


def item_of(record: Record) -> EvalItem:
    """The ``EvalItem`` a record was made from (for its gold keys)."""
    return EvalItem(
        id=str(record["id"]),
        question=str(record["question"]),
        answers=tuple(record["gold_answers"]),
        answerable=bool(record["answerable"]),
        language=str(record["language"]),
        category=str(record["category"]),
        gold_sources=tuple(record["gold_sources"]),
        gold_pages=tuple(record["gold_pages"]),
    )


def prediction(record: Record) -> str | None:
    """What EM/F1 score: the support judge's short answer when there is one,
    else the answer text without citation markers; None for a refusal."""
    if record["outcome"] != ANSWER:
        return None
    return record.get("short_answer") or strip_citations(record["answer"])


def cites_gold(record: Record) -> bool:
    """An answer citing a gold location: the gold source and, where the set
    names pages, one of the gold pages."""
    item = item_of(record)
    gold = set(item.gold_keys("page" if item.gold_pages else "source"))
    cited = {
        location_key(source, page) if item.gold_pages else source
        for _, source, page in record.get("citations", [])
    }
    return bool(gold & cited)


def _answered(record: Record) -> bool:
    return bool(record["outcome"] == ANSWER)


def _mean(values: Iterable[float]) -> float | None:
    kept = list(values)
    return sum(kept) / len(kept) if kept else None


# --- sections -------------------------------------------------------------------------


def counts(records: Sequence[Record]) -> dict[str, Any]:
    reasons: dict[str, int] = {}
    for r in records:
        if r["outcome"] == REFUSAL:
            reasons[r["refusal_reason"]] = reasons.get(r["refusal_reason"], 0) + 1
    return {
        "questions": len(records),
        "answers": sum(1 for r in records if r["outcome"] == ANSWER),
        "refusals": sum(1 for r in records if r["outcome"] == REFUSAL),
        "errors": sum(1 for r in records if r["outcome"] == ERROR),
        "answerable": sum(1 for r in records if r["answerable"]),
        "unanswerable": sum(1 for r in records if not r["answerable"]),
        "llm_calls": sum(1 for r in records if r["llm_called"]),
        "refusals_by_reason": dict(sorted(reasons.items())),
    }


def answer_quality(scored: Sequence[Record]) -> dict[str, Any]:
    squad = squad_summary((prediction(r), r["gold_answers"], r["answerable"]) for r in scored)
    answerable = [r for r in scored if r["answerable"]]
    answered = [r for r in answerable if _answered(r)]
    return {
        "squad": asdict(squad),
        "answered_em": _mean(r["scores"]["em"] for r in answered),
        "answered_f1": _mean(r["scores"]["f1"] for r in answered),
        "answered_correct": rate_dict(rate(bool(r["scores"]["contains_gold"]) for r in answered)),
        "answerable_correct": rate_dict(
            rate(bool(r["scores"]["contains_gold"]) for r in answerable)
        ),
        # answerable questions answered with the gold answer AND a citation of
        # its gold source (and page, where the set has pages)
        "answerable_correct_cited": rate_dict(
            rate(
                _answered(r) and bool(r["scores"]["contains_gold"]) and cites_gold(r)
                for r in answerable
                if r["gold_sources"]
            )
        ),
    }


def refusal_section(scored: Sequence[Record]) -> dict[str, Any]:
    should = [not r["answerable"] for r in scored]
    refused = [r["outcome"] == REFUSAL for r in scored]
    scores = refusal_scores(should, refused)
    return {
        "precision": rate_dict(scores.precision),
        "recall": rate_dict(scores.recall),
        "f1": scores.f1,
        "true_pos": scores.true_pos,
        "false_pos": scores.false_pos,
        "false_neg": scores.false_neg,
        "true_neg": scores.true_neg,
    }


def period_section(scored: Sequence[Record]) -> dict[str, Any] | None:
    """For sets whose questions name a period (eval/datasets/hkma.jsonl):
    answered correctly citing that period's document; answers carrying another
    period's figure (without the asked one's, and with it); questions about
    uncovered periods refused before any LLM call. None for other sets."""
    dated = [r for r in scored if r.get("period") and r["answerable"]]
    uncovered = [r for r in scored if r["category"] == UNCOVERED_PERIOD]
    if not dated and not uncovered:
        return None
    changing = [r for r in dated if r.get("other_period_answers")]

    def other(r: Record) -> bool:
        return _answered(r) and bool(r["scores"].get("contains_other_period"))

    def quoted_from_asked_period(r: Record) -> bool:
        """Every other-period figure in the answer is stated by a cited passage
        of the asked period ("16.1% in 2017, compared with 6.5% in 2016")."""
        passages = r.get("passages", [])
        texts = " ".join(
            passages[n - 1].get("text", "")
            for n, *_ in r.get("citations", [])
            if 0 < n <= len(passages) and passages[n - 1].get("period") == r["period"]
        )
        shown = [a for a in r["other_period_answers"] if contains_gold(r.get("answer"), [a])]
        return all(contains_gold(texts, [a]) for a in shown)

    return {
        "dated_answerable": len(dated),
        "correct_right_period": rate_dict(
            rate(
                _answered(r)
                and bool(r["scores"]["contains_gold"])
                and r["period"] in r.get("cited_periods", [])
                for r in dated
            )
        ),
        "correct_any_citation": rate_dict(
            rate(_answered(r) and bool(r["scores"]["contains_gold"]) for r in dated)
        ),
        "changing_figure_questions": len(changing),
        "other_period_figure_only": sum(
            1 for r in changing if other(r) and not r["scores"]["contains_gold"]
        ),
        "other_period_figure_with_asked": sum(
            1 for r in changing if other(r) and r["scores"]["contains_gold"]
        ),
        # the mix-up the period work is about: another period's figure that no
        # cited passage of the asked period states
        "other_period_figure_unexplained": sum(
            1 for r in changing if other(r) and not quoted_from_asked_period(r)
        ),
        "uncovered_refused_before_llm": rate_dict(
            rate(r["outcome"] == REFUSAL and not r["llm_called"] for r in uncovered)
        ),
        "uncovered_refused": rate_dict(rate(r["outcome"] == REFUSAL for r in uncovered)),
    }


def _sentence_check(stored: Mapping[str, Any]) -> SentenceCheck:
    return SentenceCheck(
        sentence=str(stored["sentence"]),
        cited=tuple(stored["cited"]),
        content_share=float(stored["content_share"]),
        missing_numbers=tuple(stored["missing_numbers"]),
        supported=bool(stored["supported"]),
    )


def grounding_section(scored: Sequence[Record], system: str) -> dict[str, Any] | None:
    """The independent grounding check over cited answers, and the pipeline
    verifier's pass rate; None when no answer carried citations (baseline)."""
    results = [
        GroundingResult(tuple(_sentence_check(c) for c in r["grounding"]["checks"]))
        for r in scored
        if r["grounding"] is not None
    ]
    answers = sum(1 for r in scored if _answered(r))
    failed = sum(1 for r in scored if r["refusal_reason"] in VERIFIER_REASONS)
    verifier = rate_dict(Rate(answers, answers + failed)) if system == "pipeline" else None
    if not results:
        return None if verifier is None else {"verifier_pass_rate": verifier}
    summary = grounding_summary(results)
    return {
        "answers_checked": len(results),
        "answers_grounded": rate_dict(summary.answers_grounded),
        "sentences_supported": rate_dict(summary.sentences_supported),
        "verifier_pass_rate": verifier,
    }


def _ranked_keys(record: Record, level: Level) -> list[str]:
    passages = record["passages"]
    if level == "source":
        return [p["source"] for p in passages]
    return [location_key(p["source"], p["page"]) for p in passages]


def retrieval_section(scored: Sequence[Record]) -> dict[str, Any]:
    """Recall@k, hit@k and MRR of the gold passage among the passages shown,
    at source level and (when the set has gold pages) at page level."""
    out: dict[str, Any] = {}
    with_gold = [r for r in scored if r["answerable"] and r["gold_sources"]]
    levels: list[Level] = ["source"]
    if any(r["gold_pages"] for r in with_gold):
        levels.append("page")
    for level in levels:
        runs = [(_ranked_keys(r, level), item_of(r).gold_keys(level)) for r in with_gold]
        section: dict[str, Any] = {"questions": len(runs)}
        for k in RECALL_KS:
            section[f"recall@{k}"] = mean_defined(recall_at_k(rk, gold, k) for rk, gold in runs)
            section[f"hit@{k}"] = mean_defined(hit_at_k(rk, gold, k) for rk, gold in runs)
        section["mrr"] = mean_defined(reciprocal_rank(rk, gold) for rk, gold in runs)
        out[level] = section
    return out


def latency_section(scored: Sequence[Record]) -> dict[str, Any]:
    """p50/p95 per stage for answers, gate refusals (no LLM call) and refusals
    after the LLM, each counted separately."""
    groups: dict[str, Callable[[Record], bool]] = {
        "answer": _answered,
        "refusal": lambda r: r["outcome"] == REFUSAL,
        "refusal_no_llm": lambda r: r["outcome"] == REFUSAL and not r["llm_called"],
        "refusal_after_llm": lambda r: r["outcome"] == REFUSAL and bool(r["llm_called"]),
        "all": lambda r: True,
    }
    out: dict[str, Any] = {}
    for name, keep in groups.items():
        chosen = [r for r in scored if keep(r)]
        out[name] = {
            stage: asdict(latency_summary([r["timings"][stage] for r in chosen]))
            for stage in STAGES
        }
        out[name]["wall"] = asdict(latency_summary([r["wall_s"] for r in chosen]))
    return out


def breakdown(
    scored: Sequence[Record], records: Sequence[Record], key: str
) -> list[dict[str, Any]]:
    """Per-category (or per-language) outcome table."""
    rows = []
    for value in sorted({str(r[key]) for r in records}):
        group = [r for r in scored if str(r[key]) == value]
        answerable = [r for r in group if r["answerable"]]
        answered_ok = [r for r in answerable if _answered(r)]
        rows.append(
            {
                key: value,
                "questions": sum(1 for r in records if str(r[key]) == value),
                "answerable": len(answerable),
                "answers": sum(1 for r in group if _answered(r)),
                "refusals": sum(1 for r in group if r["outcome"] == REFUSAL),
                "errors": sum(1 for r in records if str(r[key]) == value and r["outcome"] == ERROR),
                "answered": rate_dict(rate(_answered(r) for r in group)),
                "correct": rate_dict(rate(bool(r["scores"]["contains_gold"]) for r in answered_ok)),
                "f1": _mean(r["scores"]["f1"] for r in answerable),
            }
        )
    return rows


# --- everything -----------------------------------------------------------------------


def summarize(records: Sequence[Record], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The whole ``summary.json`` of a run."""
    records = sorted(records, key=lambda r: int(r["index"]))
    scored = [r for r in records if r["outcome"] != ERROR]
    answerable = [bool(r["answerable"]) for r in scored]
    answered = [_answered(r) for r in scored]
    system = str(meta.get("system", "pipeline"))
    gate = (meta.get("settings") or {}).get("gate")
    summary: dict[str, Any] = {
        "meta": dict(meta),
        "counts": counts(records),
        "coverage": rate_dict(coverage(answerable, answered)),
        "hallucination_rate": rate_dict(hallucination_rate(answerable, answered)),
        "answer_quality": answer_quality(scored),
        "refusal": refusal_section(scored),
        "grounding": grounding_section(scored, system),
        "retrieval": retrieval_section(scored),
        "latency": latency_section(scored),
        "categories": breakdown(scored, records, "category"),
        "languages": breakdown(scored, records, "language"),
        "sweep": sweep_section(scored, gate) if system == "pipeline" else None,
        "periods": period_section(scored),
    }
    summary["headline"] = headline(summary)
    return summary


def headline(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """The flat numbers ``compare`` puts side by side (keys of ``HEADLINE``)."""
    quality = summary["answer_quality"]
    squad = quality["squad"]
    grounding = summary["grounding"] or {}
    source = summary["retrieval"].get("source", {})
    latency = summary["latency"]

    def value(section: Mapping[str, Any] | None) -> float | None:
        return None if section is None else section["value"]

    return {
        "questions": summary["counts"]["questions"],
        "errors": summary["counts"]["errors"],
        "coverage": value(summary["coverage"]),
        "hallucination_rate": value(summary["hallucination_rate"]),
        "answered_correct": value(quality["answered_correct"]),
        "answerable_em": squad["has_ans_exact"],
        "answerable_f1": squad["has_ans_f1"],
        "answered_f1": quality["answered_f1"],
        "answerable_correct_cited": value(quality.get("answerable_correct_cited")),
        "overall_em": squad["exact"],
        "overall_f1": squad["f1"],
        "refusal_precision": value(summary["refusal"]["precision"]),
        "refusal_recall": value(summary["refusal"]["recall"]),
        "refusal_f1": summary["refusal"]["f1"],
        "answers_grounded": value(grounding.get("answers_grounded")),
        "sentences_supported": value(grounding.get("sentences_supported")),
        "verifier_pass_rate": value(grounding.get("verifier_pass_rate")),
        "recall_at_1": source.get("recall@1"),
        "recall_at_4": source.get("recall@4"),
        "mrr": source.get("mrr"),
        "llm_calls": summary["counts"]["llm_calls"],
        "latency_answer_p50": latency["answer"]["total"]["p50"],
        "latency_answer_p95": latency["answer"]["total"]["p95"],
        "latency_refusal_p50": latency["refusal"]["total"]["p50"],
        "latency_refusal_p95": latency["refusal"]["total"]["p95"],
        "latency_gate_refusal_p95": latency["refusal_no_llm"]["total"]["p95"],
    }
