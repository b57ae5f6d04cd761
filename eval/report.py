"""Write a run's ``summary.json``, ``report.md`` and ``report.html``.

Everything is derived from the output folder alone (``run.json`` and
``questions.jsonl``), so a report can be re-rendered at any time, also from a
run that was interrupted: ``chatbot-eval report runs/NAME``. The threshold
sweep is replayed offline from the recorded gate signals; nothing calls the
LLM again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chatbot.errors import ConfigurationError
from eval.document import Block, Heading, Image, Para, table, to_html, to_markdown
from eval.plots import category_chart, latency_histogram, sweep_plot
from eval.runinfo import now, read_meta, timing
from eval.runner import ERROR, QUESTIONS_FILE, read_records
from eval.summary import HEADLINE, RECALL_KS, STAGES, summarize

SUMMARY_FILE = "summary.json"
MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
SWEEP_PNG, LATENCY_PNG, CATEGORY_PNG = "sweep.png", "latency.png", "categories.png"


# --- formatting -----------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def format_value(unit: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if unit == "count":
        return str(int(value))
    if unit == "seconds":
        return secs(value)
    return pct(value)


def rate_text(rate: Mapping[str, Any] | None) -> str:
    if rate is None or rate["value"] is None:
        return "n/a"
    low, high = rate["ci95"]
    return f"{rate['value']:.1%} ({rate['successes']}/{rate['total']}, CI {low:.1%}–{high:.1%})"


def _ci(rate: Mapping[str, Any] | None) -> tuple[str, str]:
    if rate is None or rate["value"] is None:
        return "", ""
    low, high = rate["ci95"]
    return f"{low:.1%}–{high:.1%}", f"{rate['successes']}/{rate['total']}"


def headline_rate(summary: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """The rate (with counts and CI) behind a headline number, if it is one."""
    grounding = summary["grounding"] or {}
    rates: dict[str, Any] = {
        "coverage": summary["coverage"],
        "hallucination_rate": summary["hallucination_rate"],
        "answered_correct": summary["answer_quality"]["answered_correct"],
        "refusal_precision": summary["refusal"]["precision"],
        "refusal_recall": summary["refusal"]["recall"],
        "answers_grounded": grounding.get("answers_grounded"),
        "sentences_supported": grounding.get("sentences_supported"),
        "verifier_pass_rate": grounding.get("verifier_pass_rate"),
    }
    return rates.get(key)


# --- sections -------------------------------------------------------------------------


def _headline(summary: Mapping[str, Any]) -> list[Block]:
    rows = []
    for key, label, _, unit in HEADLINE:
        ci, count = _ci(headline_rate(summary, key))
        rows.append((label, format_value(unit, summary["headline"][key]), ci, count))
    return [Heading(2, "Headline"), table(("metric", "value", "95% CI", "counts"), rows)]


def _outcomes(summary: Mapping[str, Any]) -> list[Block]:
    counts = summary["counts"]
    rows: list[tuple[object, ...]] = [("answer", counts["answers"])]
    rows += [(f"refusal: {r}", n) for r, n in counts["refusals_by_reason"].items()]
    rows.append(("error", counts["errors"]))
    return [Heading(2, "Outcomes"), table(("outcome", "questions"), rows)]


def _breakdown(title: str, key: str, rows: list[dict[str, Any]]) -> list[Block]:
    blocks: list[Block] = [
        Heading(2, title),
        table(
            (key, "questions", "answered", "refused", "errors", "answered share", "correct", "F1"),
            [
                (
                    r[key],
                    r["questions"],
                    r["answers"],
                    r["refusals"],
                    r["errors"],
                    rate_text(r["answered"]),
                    rate_text(r["correct"]),
                    pct(r["f1"]),
                )
                for r in rows
            ],
        ),
    ]
    if key == "category":
        blocks.append(
            Para(
                "*answered share*: of the category's questions (for unanswerable categories, "
                "these are hallucinations); *correct*: answered answerable questions whose "
                "answer contains a gold answer; *F1*: mean token F1 over answerable questions "
                "(character F1 for Chinese gold), a refusal scoring 0. Errors are left out."
            )
        )
    return blocks


def _quality(summary: Mapping[str, Any]) -> list[Block]:
    q = summary["answer_quality"]
    s = q["squad"]
    rows = [
        (
            "answerable EM / F1 (refusal = empty answer)",
            pct(s["has_ans_exact"]),
            pct(s["has_ans_f1"]),
        ),
        ("answered answerable EM / F1", pct(q["answered_em"]), pct(q["answered_f1"])),
        ("unanswerable EM / F1 (1 for a refusal)", pct(s["no_ans_exact"]), pct(s["no_ans_f1"])),
        ("SQuAD 2.0 overall EM / F1", pct(s["exact"]), pct(s["f1"])),
    ]
    return [
        Heading(2, "Answer quality"),
        table(("score", "EM", "F1"), rows),
        Para(
            "Answers contain a gold answer: "
            f"{rate_text(q['answered_correct'])} of answered answerable questions, "
            f"{rate_text(q['answerable_correct'])} of all answerable questions. EM/F1 follow "
            "the SQuAD 2.0 rules on the answer text without `[n]` markers; generated answers "
            "are sentences, so EM is low by construction and *contains gold* is the fairer signal."
        ),
    ]


def _periods(summary: Mapping[str, Any]) -> list[Block]:
    p = summary.get("periods")
    if not p:
        return []
    rows = [
        (
            f"dated answerable questions answered correctly, citing the asked period "
            f"({p['dated_answerable']})",
            rate_text(p["correct_right_period"]),
        ),
        ("... answered correctly, any citation", rate_text(p["correct_any_citation"])),
        (
            f"answers carrying another period's figure, not the asked one "
            f"(of {p['changing_figure_questions']} changing-figure questions)",
            p["other_period_figure_only"],
        ),
        (
            "... carrying another period's figure next to the asked one",
            p["other_period_figure_with_asked"],
        ),
        (
            "... another period's figure that no cited passage of the asked period states",
            p.get("other_period_figure_unexplained", "—"),
        ),
        (
            "uncovered-period questions refused before any LLM call",
            rate_text(p["uncovered_refused_before_llm"]),
        ),
        ("uncovered-period questions refused", rate_text(p["uncovered_refused"])),
    ]
    return [Heading(2, "Periods"), table(("metric", "value"), rows)]


def _grounding(summary: Mapping[str, Any]) -> list[Block]:
    g = summary["grounding"]
    blocks: list[Block] = [Heading(2, "Grounding")]
    if g is None or "answers_grounded" not in g:
        blocks.append(Para("n/a: this system's answers carry no citations to check."))
    else:
        blocks.append(
            table(
                ("check", "rate"),
                [
                    (
                        "answers whose every sentence its citations support",
                        rate_text(g["answers_grounded"]),
                    ),
                    ("answer sentences supported", rate_text(g["sentences_supported"])),
                ],
            )
        )
        blocks.append(
            Para(
                "Independent lexical check (`eval.grounding`, not the pipeline's verifier): a "
                "sentence is supported when the passages it cites contain at least 60% of its "
                "content words and every number in it."
            )
        )
    if g is not None and g.get("verifier_pass_rate") is not None:
        blocks.append(
            Para(
                "Pipeline verifier pass rate (answers / (answers + `unsupported` and "
                f"`no_valid_citation` refusals)): {rate_text(g['verifier_pass_rate'])}."
            )
        )
    return blocks


def _retrieval(summary: Mapping[str, Any]) -> list[Block]:
    rows = []
    for level, r in summary["retrieval"].items():
        cells: list[object] = [level, r["questions"]]
        cells += [pct(r[f"recall@{k}"]) for k in RECALL_KS]
        cells += [pct(r[f"hit@{k}"]) for k in RECALL_KS]
        rows.append((*cells, pct(r["mrr"])))
    headers = ["gold key", "questions"]
    headers += [f"recall@{k}" for k in RECALL_KS] + [f"hit@{k}" for k in RECALL_KS] + ["MRR"]
    return [
        Heading(2, "Retrieval"),
        table(headers, rows) if rows else Para("n/a: no answerable question has a gold source."),
        Para(
            "Over answerable questions with a gold source, among the passages shown to the "
            "model, in order; `page` compares 'source#page'."
        ),
    ]


def _latency(summary: Mapping[str, Any], image: Path) -> list[Block]:
    rows = []
    for group, stages in summary["latency"].items():
        cells: list[object] = [group, stages["total"]["count"]]
        for stage in STAGES:
            cells.append(f"{secs(stages[stage]['p50'])} / {secs(stages[stage]['p95'])}")
        rows.append(cells)
    headers = ("outcome", "questions", *(f"{s} p50 / p95" for s in STAGES))
    return [Heading(2, "Latency"), table(headers, rows), Image(image, "latency histogram")]


def _sweep(summary: Mapping[str, Any], image: Path | None) -> list[Block]:
    sweep = summary["sweep"]
    blocks: list[Block] = [Heading(2, "Gate threshold sweep")]
    if sweep is None or image is None:
        return [*blocks, Para("n/a: this system has no evidence gate (or recorded no signals).")]
    here = sweep["operating_point"]
    rows = []
    for p in sweep["grid"]:
        mark = " (current)" if abs(p["shift"]) < 1e-9 else ""
        rows.append(
            (
                f"{p['threshold_en']:.2f}{mark}",
                f"{p['threshold_zh']:.2f}",
                rate_text(p["coverage"]),
                rate_text(p["hallucination"]),
                rate_text(p["correct"]),
                p["unknown"],
            )
        )
    best = []
    for target, point in sweep["best_within_hallucination"].items():
        if point is None:
            best.append(f"no threshold keeps hallucination at or below {float(target):.0%}")
        else:
            best.append(
                f"hallucination ≤ {float(target):.0%}: en threshold {point['threshold_en']:.2f} "
                f"(zh {point['threshold_zh']:.2f}) gives coverage {pct(point['coverage']['value'])}"
            )
    return [
        *blocks,
        Image(image, "hallucination rate vs coverage as the coverage threshold sweeps"),
        Para(
            f"Current operating point: en {here['threshold_en']:.2f}, zh "
            f"{here['threshold_zh']:.2f}: coverage {rate_text(here['coverage'])}, hallucination "
            f"{rate_text(here['hallucination'])}. Replayed offline from the recorded gate "
            "signals (dense threshold held). *unknown*: questions the gate refused in this run "
            "that a lower threshold would let through; their outcome is unknown and they count "
            "as refused, so rates below the current threshold are lower bounds. Record with "
            "`CHATBOT_GATE__MIN_TERM_COVERAGE=0 CHATBOT_GATE__MIN_TERM_COVERAGE_CJK=0` to sweep "
            "freely."
        ),
        table(
            ("en threshold", "zh threshold", "coverage", "hallucination", "correct", "unknown"),
            rows,
        ),
        Para("Best thresholds: " + "; ".join(best) + "."),
    ]


def _run(meta: Mapping[str, Any]) -> list[Block]:
    settings = meta.get("settings") or {}
    git = meta.get("git") or {}
    index = meta.get("index") or {}
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += " (with local changes)"
    rows = [
        ("dataset", meta.get("dataset")),
        ("data", meta.get("data_path")),
        ("questions / limit / seed", f"{meta.get('n')} / {meta.get('limit')} / {meta.get('seed')}"),
        ("options", json.dumps(meta.get("options") or {})),
        ("system", meta.get("system")),
        ("model", meta.get("model")),
        ("embedder", meta.get("embedder")),
        ("gate", json.dumps(settings.get("gate") or {})),
        ("retrieval", json.dumps(settings.get("retrieval") or {})),
        ("generation", json.dumps(settings.get("llm") or {})),
        ("chunking", json.dumps(settings.get("chunking") or {})),
        ("index", f"{index.get('chunks')} chunks in {index.get('folder')}"),
        ("git commit", commit),
        ("started / ended", f"{meta.get('started_at')} / {meta.get('ended_at')}"),
        ("wall seconds", f"{meta.get('wall_s')} over {meta.get('sessions')} session(s)"),
        ("concurrency", meta.get("concurrency")),
    ]
    return [Heading(2, "Run"), table(("", ""), rows)]


# --- the report -----------------------------------------------------------------------


def blocks_for(
    summary: Mapping[str, Any], categories_png: Path, latency_png: Path, sweep_png: Path | None
) -> list[Block]:
    meta = summary["meta"]
    counts = summary["counts"]
    blocks: list[Block] = [
        Heading(1, f"Boundary evaluation: {meta.get('dataset')} ({meta.get('system')})"),
        Para(
            f"{counts['questions']} questions ({counts['answerable']} answerable, "
            f"{counts['unanswerable']} should be refused) · model `{meta.get('model')}` · "
            f"embedder `{meta.get('embedder')}` · report generated {now()}"
        ),
    ]
    if counts["errors"]:
        blocks.append(
            Para(
                f"**{counts['errors']} question(s) failed with a generator error** and are left "
                "out of every rate; see the records with outcome `error` in `questions.jsonl`."
            )
        )
    blocks += _headline(summary) + _outcomes(summary)
    blocks += _breakdown("Per category", "category", summary["categories"])
    blocks.append(Image(categories_png, "outcomes per category"))
    blocks += _breakdown("Per language", "language", summary["languages"])
    blocks += _quality(summary) + _periods(summary) + _grounding(summary) + _retrieval(summary)
    blocks += _latency(summary, latency_png)
    blocks += _sweep(summary, sweep_png) + _run(meta)
    return blocks


def write_report(out_dir: Path) -> dict[str, Any]:
    """Summarise ``out_dir`` and write summary.json, the plots and both reports."""
    records = read_records(out_dir / QUESTIONS_FILE)
    if not records:
        raise ConfigurationError(
            f"no question records in {out_dir / QUESTIONS_FILE}: run `chatbot-eval run` first"
        )
    meta = read_meta(out_dir) or {}
    summary = summarize(records, {**meta, **timing(meta)})
    (out_dir / SUMMARY_FILE).write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    timed = [r for r in records if r["outcome"] != ERROR]
    categories_png = category_chart(summary["categories"], out_dir / CATEGORY_PNG)
    latency_png = latency_histogram(timed, out_dir / LATENCY_PNG)
    sweep_png = None
    if summary["sweep"] is not None:
        sweep_png = sweep_plot(summary["sweep"], out_dir / SWEEP_PNG)
    elif (out_dir / SWEEP_PNG).exists():
        (out_dir / SWEEP_PNG).unlink()  # left from an earlier render
    blocks = blocks_for(summary, categories_png, latency_png, sweep_png)
    title = f"Boundary evaluation: {meta.get('dataset')} ({meta.get('system')})"
    (out_dir / MARKDOWN_FILE).write_text(to_markdown(blocks), encoding="utf-8")
    (out_dir / HTML_FILE).write_text(to_html(blocks, title), encoding="utf-8")
    return summary
