"""The report's figures, drawn with matplotlib's Agg canvas into PNG files.

Figures are built with the object API (``Figure`` plus an Agg canvas), never
``pyplot``: no global figure state, no GUI backend, safe in a server or a CI
job without a display. Each function takes numbers from ``summary.json`` (or
the records) and writes one file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png")
    return path


def sweep_plot(sweep: Mapping[str, Any], path: Path) -> Path:
    """Hallucination rate against coverage as the coverage threshold moves,
    with the run's own operating point marked."""
    points = [
        p
        for p in sweep["points"]
        if p["coverage"]["value"] is not None and p["hallucination"]["value"] is not None
    ]
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.subplots()
    xs = [p["coverage"]["value"] for p in points]
    ys = [p["hallucination"]["value"] for p in points]
    ax.plot(xs, ys, marker=".", linewidth=1.2, color="#1f77b4", label="coverage threshold swept")
    here = sweep["operating_point"]
    hx, hy = here["coverage"]["value"], here["hallucination"]["value"]
    if hx is not None and hy is not None:
        low, high = here["hallucination"]["ci95"]
        ax.errorbar(
            [hx],
            [hy],
            yerr=[[hy - low], [high - hy]],
            fmt="*",
            markersize=14,
            color="#d62728",
            capsize=4,
            label=(
                f"current gate (en {here['threshold_en']:.2f}, zh {here['threshold_zh']:.2f}),"
                " 95% CI"
            ),
        )
    ax.set_xlabel("coverage (answered share of answerable questions)")
    ax.set_ylabel("hallucination rate (answered share of unanswerable)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title("Gate coverage threshold: hallucination vs coverage")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def latency_histogram(records: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Total seconds per question, answers and refusals drawn separately."""
    groups = {
        "answers": [r["timings"]["total"] for r in records if r["outcome"] == "answer"],
        "refusals before the LLM": [
            r["timings"]["total"]
            for r in records
            if r["outcome"] == "refusal" and not r["llm_called"]
        ],
        "refusals after the LLM": [
            r["timings"]["total"] for r in records if r["outcome"] == "refusal" and r["llm_called"]
        ],
    }
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    everything = [v for values in groups.values() for v in values]
    if everything:
        top = max(everything) or 1.0
        bins = [top * i / 30 for i in range(31)]
        for (label, values), color in zip(
            groups.items(), ("#2ca02c", "#7f7f7f", "#ff7f0e"), strict=True
        ):
            if values:
                ax.hist(values, bins=bins, alpha=0.6, color=color, label=f"{label} ({len(values)})")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no timed questions", ha="center", va="center")
    ax.set_xlabel("seconds per question (retrieve + generate + verify)")
    ax.set_ylabel("questions")
    ax.set_title("Latency")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def category_chart(categories: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Answers, refusals and errors per question category, as stacked bars."""
    names = [str(c["category"]) for c in categories]
    fig = Figure(figsize=(6.4, 0.6 * max(len(names), 2) + 1.4))
    ax = fig.subplots()
    left = [0.0] * len(names)
    for key, label, color in (
        ("answers", "answered", "#2ca02c"),
        ("refusals", "refused", "#7f7f7f"),
        ("errors", "error", "#d62728"),
    ):
        values = [float(c[key]) for c in categories]
        ax.barh(names, values, left=left, color=color, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("questions")
    ax.set_title("Outcomes per category")
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)
