"""The short load test (marker ``load``): the real app process (``app.py``:
ingestion, the web UI and the JSON API) on the real embedded LLM, driven
by simulated users (``eval.load``) with back-pressure set tight (two LLM
places, two waiting), so the LLM is saturated within seconds. Every
request must be answered, refused or told "busy" (429 with Retry-After),
none may fault or go past its timeout, and the audit trail must hold every
question and every piece of feedback. Latency figures are printed, not
asserted: the full run with its numbers is ``benchmarks/load_bench.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.adapters.sqlite_audit import SqliteAuditStore
from eval.load import MemorySampler, drive, serving_app, summarise

pytestmark = [pytest.mark.load, pytest.mark.llm, pytest.mark.slow]

USERS = 16
SECONDS = 45.0
CLIENT_TIMEOUT_S = 180.0
ALLOWED = {"answer", "gate_refusal", "follow_up_refusal", "llm_refusal", "busy", "feedback"}


def test_a_saturated_llm_sheds_load_cleanly_and_the_audit_keeps_everything(
    embedded_llm: str, tmp_path: Path
) -> None:
    tight = {
        "CHATBOT_LLM__MAX_CONCURRENT": "2",
        "CHATBOT_LLM__QUEUE_SIZE": "2",
        "CHATBOT_LLM__QUEUE_WAIT_S": "10",
    }
    with serving_app(tmp_path, tight, ready_within_s=300) as (app, base):
        with MemorySampler(app.pid) as memory:
            results = drive(
                base,
                users=USERS,
                seconds=SECONDS,
                timeout_s=CLIENT_TIMEOUT_S,
                think_s=(0.3, 1.2),
            )
        summary = summarise(results, SECONDS)
        summary["rss"] = memory.summary()
        print(json.dumps(summary, indent=2))
        assert app.poll() is None, "the app process died under load"

    outcomes = {r.outcome for r in results}
    assert outcomes <= ALLOWED, (outcomes - ALLOWED, (tmp_path / "app.log").read_text()[-3000:])
    assert summary["server_errors"] == 0 and summary["busy_without_retry_after"] == 0
    assert all(r.seconds < CLIENT_TIMEOUT_S for r in results)
    counts = summary["outcomes"]
    assert isinstance(counts, dict)
    # back-pressure was exercised, and gate refusals kept being served
    assert counts.get("busy", 0) > 0 and counts.get("gate_refusal", 0) > 0
    assert counts.get("answer", 0) + counts.get("llm_refusal", 0) > 0

    audit = SqliteAuditStore(tmp_path / "audit.sqlite3")
    asked = [r for r in results if r.action != "feedback"]
    feedback = [r for r in results if r.outcome == "feedback"]
    interactions = list(audit.interactions())
    failures = audit.failures()
    assert len(interactions) + len(failures) == len(asked)
    assert {f.kind for f in failures} <= {"busy"}
    assert len(failures) == counts.get("busy", 0)
    assert len(audit.feedback()) == len(feedback)
