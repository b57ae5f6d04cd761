"""Summary numbers on the hand-built tiny run, and the report files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.report import write_report
from eval.runner import QUESTIONS_FILE, read_records
from eval.summary import summarize
from tests.eval.tiny import meta, write_run


@pytest.fixture
def summary(tmp_path: Path) -> dict[str, Any]:
    write_run(tmp_path)
    return summarize(read_records(tmp_path / QUESTIONS_FILE), meta())


def test_counts_add_up(summary: dict[str, Any]) -> None:
    counts = summary["counts"]
    assert counts["questions"] == 7
    assert (counts["answers"], counts["refusals"], counts["errors"]) == (3, 3, 1)
    assert counts["answers"] + counts["refusals"] + counts["errors"] == counts["questions"]
    assert counts["refusals_by_reason"] == {"no_evidence": 2, "unsupported": 1}
    assert counts["llm_calls"] == 5  # 3 answers, 1 unsupported, 1 error
    assert sum(c["questions"] for c in summary["categories"]) == 7


def test_rates_with_counts_and_intervals(summary: dict[str, Any]) -> None:
    # errors are left out: 3 answerable (2 answered), 3 unanswerable (1 answered)
    assert (summary["coverage"]["successes"], summary["coverage"]["total"]) == (2, 3)
    hall = summary["hallucination_rate"]
    assert (hall["successes"], hall["total"]) == (1, 3)
    assert hall["ci95"] == pytest.approx([0.0615, 0.7923], abs=1e-4)
    refusal = summary["refusal"]
    assert (refusal["true_pos"], refusal["false_pos"], refusal["false_neg"]) == (2, 1, 1)
    assert refusal["precision"]["value"] == pytest.approx(2 / 3)
    assert refusal["f1"] == pytest.approx(2 / 3)


def test_answer_scores(summary: dict[str, Any]) -> None:
    quality = summary["answer_quality"]
    squad = quality["squad"]
    # a1 "The Sandbox was launched in August 2024": 2 of 6 tokens match "August 2024"
    a1_f1 = 2 * (2 / 6) * 1 / (2 / 6 + 1)
    assert squad["has_ans_f1"] == pytest.approx(a1_f1 / 3)
    assert squad["has_ans_exact"] == 0.0
    assert squad["no_ans_exact"] == pytest.approx(2 / 3)  # two refusals score 1
    assert squad["exact"] == pytest.approx(2 / 6)
    assert quality["answered_f1"] == pytest.approx(a1_f1 / 2)
    correct = quality["answered_correct"]
    assert (correct["successes"], correct["total"]) == (1, 2)
    # a1 is right and cites overview.pdf page 1; a2 is wrong; a3 was refused
    cited = quality["answerable_correct_cited"]
    assert (cited["successes"], cited["total"]) == (1, 3)
    assert summary["headline"]["answerable_correct_cited"] == pytest.approx(1 / 3)


def test_grounding_and_verifier(summary: dict[str, Any]) -> None:
    grounding = summary["grounding"]
    grounded = grounding["answers_grounded"]
    assert (grounded["successes"], grounded["total"]) == (2, 3)  # a2 cites nothing about 2023
    verifier = grounding["verifier_pass_rate"]
    assert (verifier["successes"], verifier["total"]) == (3, 4)  # 3 answers, 1 unsupported


def test_retrieval_of_the_gold_passage(summary: dict[str, Any]) -> None:
    source = summary["retrieval"]["source"]
    assert source["questions"] == 3
    assert source["recall@1"] == pytest.approx(1 / 3)  # a1 only
    assert source["recall@4"] == pytest.approx(2 / 3)  # a1, a2
    assert source["mrr"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert summary["retrieval"]["page"]["mrr"] == pytest.approx(0.5)


def test_latency_counts_refusals_separately(summary: dict[str, Any]) -> None:
    latency = summary["latency"]
    assert latency["answer"]["total"]["count"] == 3
    assert latency["answer"]["total"]["p50"] == pytest.approx(2.11)
    assert latency["refusal_no_llm"]["total"]["count"] == 2
    assert latency["refusal_no_llm"]["generate"]["p95"] == 0.0
    assert latency["refusal_after_llm"]["total"]["p50"] == pytest.approx(1.61)


def test_sweep_operating_point_matches_the_run(summary: dict[str, Any]) -> None:
    sweep = summary["sweep"]
    here = sweep["operating_point"]
    assert here["hallucination"] == summary["hallucination_rate"]
    assert here["coverage"] == summary["coverage"]
    grid = {round(p["threshold_en"], 2): p for p in sweep["grid"]}
    # raising the en coverage threshold to 0.70 refuses the hallucination (0.65)
    assert grid[0.7]["hallucination"]["successes"] == 0
    assert grid[0.7]["coverage"]["successes"] == 2
    assert grid[0.8]["coverage"]["successes"] == 1
    # lowering it lets the gate-refused u2 (coverage 0.5) through: outcome unknown
    assert grid[0.5]["unknown"] == 1
    assert sweep["best_within_hallucination"]["0.05"]["threshold_en"] == pytest.approx(0.7)


def test_report_files_are_written(tmp_path: Path) -> None:
    write_run(tmp_path)
    summary = write_report(tmp_path)
    for name in ("summary.json", "report.md", "report.html", "sweep.png", "latency.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert saved["headline"] == summary["headline"]
    assert saved["meta"]["wall_s"] == 60.0
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "![hallucination rate vs coverage" in markdown and "(sweep.png)" in markdown
    assert "1 question(s) failed with a generator error" in markdown
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 3
    assert "sweep.png" not in html  # self-contained


def test_baseline_has_no_grounding_and_no_sweep(tmp_path: Path) -> None:
    write_run(tmp_path, system="baseline")
    (tmp_path / "sweep.png").write_bytes(b"stale")
    summary = write_report(tmp_path)
    assert summary["sweep"] is None and not (tmp_path / "sweep.png").exists()
    # the scripted answers cite, so the check runs; the verifier rate is pipeline-only
    assert summary["grounding"]["verifier_pass_rate"] is None
    assert summary["headline"]["verifier_pass_rate"] is None
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "n/a: this system has no evidence gate" in markdown


def test_report_without_records_is_a_clear_error(tmp_path: Path) -> None:
    from chatbot.errors import BoundaryError

    with pytest.raises(BoundaryError, match="chatbot-eval run"):
        write_report(tmp_path)
