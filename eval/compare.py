"""Side-by-side comparison of two runs' headline numbers, with deltas.

Reads each run's ``summary.json`` (re-rendering it from ``questions.jsonl``
when it is missing) and prints one Markdown table: every headline metric of
run A, of run B, and B minus A. Rates differ in percentage points; seconds
and counts in their own units. The last column says which run is better on
metrics that have a direction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chatbot.errors import ConfigurationError
from eval.document import Block, Heading, Para, table, to_markdown
from eval.report import SUMMARY_FILE, format_value, write_report
from eval.runner import QUESTIONS_FILE
from eval.summary import HEADLINE


def load_summary(run_dir: Path) -> dict[str, Any]:
    """The run's summary, rendered first if only its records exist."""
    path = run_dir / SUMMARY_FILE
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "headline" in data:
            return data
    if (run_dir / QUESTIONS_FILE).is_file():
        return write_report(run_dir)
    raise ConfigurationError(f"{run_dir} holds no evaluation run (no {SUMMARY_FILE})")


def delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def format_delta(unit: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if unit == "rate":
        return f"{value * 100:+.1f} pp"
    if unit == "seconds":
        return f"{value:+.2f} s"
    return f"{value:+g}"


def verdict(better: str, value: float | None, name_a: str, name_b: str) -> str:
    if not better or value is None or abs(value) < 1e-12:
        return ""
    improved = value > 0 if better == "up" else value < 0
    return name_b if improved else name_a


def compare(
    a: Mapping[str, Any], b: Mapping[str, Any], name_a: str = "A", name_b: str = "B"
) -> str:
    """A Markdown comparison of two summaries' headline numbers."""
    rows = []
    for key, label, better, unit in HEADLINE:
        va, vb = a["headline"].get(key), b["headline"].get(key)
        d = delta(va, vb)
        rows.append(
            (
                label,
                format_value(unit, va),
                format_value(unit, vb),
                format_delta(unit, d),
                verdict(better, d, name_a, name_b),
            )
        )

    def describe(name: str, summary: Mapping[str, Any]) -> str:
        meta = summary.get("meta", {})
        return (
            f"**{name}**: {meta.get('dataset')} · {meta.get('system')} · model "
            f"`{meta.get('model')}` · seed {meta.get('seed')} · "
            f"{summary['headline'].get('questions')} questions"
        )

    blocks: list[Block] = [
        Heading(2, f"Comparison: {name_a} vs {name_b}"),
        Para(describe(name_a, a)),
        Para(describe(name_b, b)),
        table(("metric", name_a, name_b, "Δ (B − A)", "better"), rows),
    ]
    note = _same_questions_note(a, b)
    if note:
        blocks.append(Para(note))
    return to_markdown(blocks)


def _same_questions_note(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    keys = ("dataset", "seed", "limit", "options")
    ma, mb = a.get("meta", {}), b.get("meta", {})
    differs = [k for k in keys if ma.get(k) != mb.get(k)]
    if not differs:
        return ""
    return (
        f"Note: the runs differ in {', '.join(differs)}, so they may not have asked the same "
        "questions; deltas then mix system and sample differences."
    )
