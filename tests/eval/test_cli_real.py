"""``chatbot-eval run`` end to end on the real stack: the repository's corpus
ingested with the packaged embedder into Chroma and SQLite, 20 questions of
the own set answered by the embedded vLLM CPU server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from eval.cli import main
from eval.runner import QUESTIONS_FILE, read_records

pytestmark = [pytest.mark.real, pytest.mark.llm, pytest.mark.slow]


def test_own_set_sample_end_to_end(
    embedded_llm: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Point the CLI at the session's server so it does not start another one.
    monkeypatch.setenv("CHATBOT_LLM__MODE", "remote")
    monkeypatch.setenv("CHATBOT_LLM__BASE_URL", embedded_llm)
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ["run", "--dataset", "own", "--limit", "20", "--seed", "0",
            "--index-cache", str(cache), "--out", str(out)]  # fmt: skip

    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output  # 1: some generator errors, recorded
    assert "own · pipeline · 20 questions" in result.output
    for name in ("questions.jsonl", "summary.json", "report.md", "report.html", "run.json"):
        assert (out / name).is_file(), name
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"

    records = read_records(out / QUESTIONS_FILE)
    assert sorted(r["id"] for r in records) == sorted({r["id"] for r in records})
    assert len(records) == 20
    off_topic = [r for r in records if r["category"] == "off_topic"]
    assert off_topic, "seed 0 samples two off-topic questions"
    assert all(r["outcome"] == "refusal" and not r["llm_called"] for r in off_topic)
    for r in records:
        if r["refusal_reason"] == "out_of_scope":  # refused before retrieval
            assert r["passages"] == [] and not r["llm_called"], r["id"]
        elif r["outcome"] != "error":
            assert r["evidence"] is not None and r["passages"], r["id"]
        if r["outcome"] == "answer":
            assert r["citations"] and r["grounding"] is not None, r["id"]

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    counts = summary["counts"]
    assert counts["questions"] == 20
    assert counts["answers"] + counts["refusals"] + counts["errors"] == 20
    assert sum(counts["refusals_by_reason"].values()) == counts["refusals"]
    assert counts["answerable"] + counts["unanswerable"] == 20
    scored_answerable = sum(1 for r in records if r["answerable"] and r["outcome"] != "error")
    assert summary["coverage"]["total"] == scored_answerable
    assert sum(c["questions"] for c in summary["categories"]) == 20
    assert summary["meta"]["model"] and summary["meta"]["git"]["commit"]
    assert summary["meta"]["settings"]["gate"]["min_term_coverage"] == 0.6
    assert summary["sweep"]["operating_point"]["coverage"] == summary["coverage"]
    assert summary["retrieval"]["source"]["questions"] == counts["answerable"] - sum(
        1 for r in records if r["answerable"] and r["outcome"] == "error"
    )

    # Running again resumes: nothing is asked, the index comes from the cache.
    again = CliRunner().invoke(main, args)
    assert again.exit_code in (0, 1), again.output
    assert len(read_records(out / QUESTIONS_FILE)) == 20
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["index"]["cached"] is True
    assert [s["asked"] for s in run["sessions"]] == [20, 0]
