"""The audit store: what one question leaves behind, feedback, retention, export."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.answer.pipeline import Pipeline
from chatbot.assistant import Assistant
from chatbot.audit import AuditStore, settings_version
from chatbot.audit_cli import main as audit_cli
from chatbot.compose import open_audit
from chatbot.domain import Answer
from chatbot.errors import (
    ConfigurationError,
    GeneratorUnavailableError,
    RerankerError,
    UnknownInteractionError,
)
from chatbot.settings import GateSettings, RetrievalSettings, Settings
from tests.builders import (
    IN_CORPUS,
    IN_CORPUS_REPLY,
    OFF_TOPIC,
    RERANKER_FAILURE,
    FailingReranker,
    ScriptedReranker,
    asker,
    pipeline_with,
)
from tests.fakes_llm import ScriptedGenerator


def test_answer_is_recorded_with_citations_scores_and_evidence(
    make_assistant: Callable[..., Assistant], audit: AuditStore
) -> None:
    recorded = make_assistant(IN_CORPUS_REPLY).ask(
        IN_CORPUS, channel="api", principal=asker("u1"), conversation_id="c1"
    )
    assert recorded.interaction_id is not None
    row = audit.get(recorded.interaction_id)
    assert row is not None
    assert (row.channel, row.user_id, row.conversation_id) == ("api", "u1", "c1")
    assert row.decision == "answer" and row.refusal_reason is None
    assert row.answer_text == IN_CORPUS_REPLY and row.model == "scripted"
    assert row.citations == [{"number": 1, "source": "overview.pdf", "page": 1, "id": "c0"}]
    assert row.passages and set(row.passages[0]) >= {"id", "fused", "dense", "keyword"}
    # No reranker and no support judge: neither is recorded.
    assert all("rerank" not in p for p in row.passages) and row.short_answer is None
    assert row.evidence is not None and row.evidence["coverage"] > 0
    assert row.timings["wall_s"] >= row.timings["retrieve_s"] >= 0
    assert row.timestamp.tzinfo is UTC
    assert row.settings_version == settings_version(
        RetrievalSettings(), GateSettings(min_dense_score=0.05)
    )


def test_short_answer_and_rerank_scores_are_recorded(
    make_assistant: Callable[..., Assistant], audit: AuditStore
) -> None:
    reranker = ScriptedReranker({"c0": 2.5, "c2": -1.25})
    recorded = make_assistant(IN_CORPUS_REPLY, short_answer="August 2024", reranker=reranker).ask(
        IN_CORPUS, channel="api", principal=asker()
    )
    assert isinstance(recorded.outcome, Answer)
    row = audit.get(recorded.interaction_id or "")
    assert row is not None and row.decision == "answer"
    assert row.short_answer == "August 2024" == recorded.outcome.short_answer
    rescored = {p.id: p.rerank_score for p in recorded.outcome.passages}
    assert rescored["c0"] == 2.5 and None not in rescored.values()
    assert {p["id"]: p["rerank"] for p in row.passages} == rescored
    assert row.passages[0]["id"] == "c0" and row.passages[0]["fused"] > 0
    assert row.to_json()["short_answer"] == "August 2024"


def test_a_reranker_failure_raises_and_records_nothing(
    make_assistant: Callable[..., Assistant], audit: AuditStore
) -> None:
    assistant = make_assistant(IN_CORPUS_REPLY, reranker=FailingReranker())
    with pytest.raises(RerankerError) as info:
        assistant.ask(IN_CORPUS, channel="api", principal=asker())
    assert info.value is RERANKER_FAILURE
    assert list(audit.interactions()) == []


def test_refusal_is_recorded_with_reason_and_no_model(
    make_assistant: Callable[..., Assistant], audit: AuditStore
) -> None:
    recorded = make_assistant().ask(OFF_TOPIC, channel="slack", principal=asker())
    row = audit.get(recorded.interaction_id or "")
    assert row is not None and row.decision == "refusal"
    assert row.refusal_reason == "no_evidence" and row.model == "" and row.citations == []
    assert "best_dense" in row.detail and row.short_answer is None


def test_generator_failure_raises_and_records_nothing(
    make_assistant: Callable[..., Assistant], audit: AuditStore
) -> None:
    assistant = make_assistant(GeneratorUnavailableError("down"))
    with pytest.raises(GeneratorUnavailableError):
        assistant.ask(IN_CORPUS, channel="api", principal=asker())
    assert list(audit.interactions()) == []


def test_settings_version_changes_with_a_threshold() -> None:
    base = settings_version(RetrievalSettings(), GateSettings())
    assert base == settings_version(RetrievalSettings(), GateSettings())
    assert base != settings_version(RetrievalSettings(), GateSettings(min_dense_score=0.4))


def test_feedback_is_stored_and_unknown_ids_are_rejected(
    make_assistant: Callable[..., Assistant], audit: AuditStore
) -> None:
    recorded = make_assistant(IN_CORPUS_REPLY).ask(IN_CORPUS, channel="web", principal=asker())
    assert recorded.interaction_id
    make_assistant().feedback(recorded.interaction_id, False, "  too short ", principal=asker())
    with pytest.raises(UnknownInteractionError):  # only the asker may rate their reply
        make_assistant().feedback(recorded.interaction_id, True, "", principal=asker("someone"))
    [fb] = audit.feedback()
    assert (fb.interaction_id, fb.helpful, fb.comment) == (
        recorded.interaction_id,
        False,
        "too short",
    )
    with pytest.raises(UnknownInteractionError):
        audit.add_feedback("no-such-id", True)


def test_store_uses_wal_and_keeps_no_secrets(
    tmp_path: Path, make_assistant: Callable[..., Assistant], audit: SqliteAuditStore
) -> None:
    make_assistant(IN_CORPUS_REPLY).ask(IN_CORPUS, channel="api", principal=asker())
    with sqlite3.connect(audit.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw = audit.path.read_bytes() + (tmp_path / "audit.sqlite3-wal").read_bytes()
    assert b"EMPTY" not in raw and b"api_key" not in raw


def test_old_interactions_are_purged_on_open_and_write(tmp_path: Path) -> None:
    now = [datetime(2025, 1, 1, tzinfo=UTC)]
    path = tmp_path / "a.sqlite3"
    store = SqliteAuditStore(path, retention_days=10, clock=lambda: now[0])
    assistant = Assistant(_pipeline(), store)
    old = assistant.ask(OFF_TOPIC, channel="api", principal=asker()).interaction_id
    assert old is not None
    store.add_feedback(old, True)
    now[0] += timedelta(days=11)
    assistant.ask(OFF_TOPIC, channel="api", principal=asker())
    assert store.get(old) is None and store.feedback() == []
    assert len(list(store.interactions())) == 1
    now[0] += timedelta(days=11)
    reopened = SqliteAuditStore(path, retention_days=10, clock=lambda: now[0])
    assert list(reopened.interactions()) == []


def _pipeline() -> Pipeline:
    return pipeline_with(ScriptedGenerator())


def test_export_cli_writes_jsonl_and_csv_with_since(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.sqlite3"
    monkeypatch.setenv("CHATBOT_AUDIT__PATH", str(path))
    monkeypatch.setenv("CHATBOT_AUDIT__RETENTION_DAYS", "0")
    when = [datetime(2024, 12, 31, 23, 0, tzinfo=UTC)]
    store = SqliteAuditStore(path, retention_days=0, clock=lambda: when[0])
    assistant = Assistant(_pipeline(), store)
    assistant.ask(OFF_TOPIC, channel="api", principal=asker())
    when[0] = datetime(2025, 1, 2, tzinfo=UTC)
    newer = assistant.ask("Was ist das?", channel="teams", principal=asker()).interaction_id
    assert newer is not None
    store.add_feedback(newer, True, "ok")

    runner = CliRunner()
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(audit_cli, ["export", "--out", str(out), "--since", "2025-01-01"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [newer] and rows[0]["channel"] == "teams"

    out_csv = tmp_path / "audit.csv"
    result = runner.invoke(audit_cli, ["export", "--format", "csv", "--out", str(out_csv)])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(out_csv.open()))
    assert len(table) == 2 and json.loads(table[0]["timings"])["wall_s"] >= 0

    fb_out = tmp_path / "fb.csv"
    result = runner.invoke(
        audit_cli, ["export", "--format", "csv", "--table", "feedback", "--out", str(fb_out)]
    )
    assert result.exit_code == 0 and "ok" in fb_out.read_text()


def test_export_cli_without_a_store_fails_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATBOT_AUDIT__PATH", str(tmp_path / "none.sqlite3"))
    result = CliRunner().invoke(audit_cli, ["export", "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2 and "CHATBOT_AUDIT__PATH" in result.output


# The interactions table as it was before standalone questions, short answers
# and rerank scores were recorded.
_FIRST_SCHEMA = """
CREATE TABLE interactions (
    id TEXT PRIMARY KEY, timestamp TEXT NOT NULL, channel TEXT NOT NULL,
    user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, question TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('answer', 'refusal')), refusal_reason TEXT,
    answer_text TEXT NOT NULL, detail TEXT NOT NULL, citations TEXT NOT NULL,
    passages TEXT NOT NULL, evidence TEXT, model TEXT NOT NULL,
    settings_version TEXT NOT NULL, timings TEXT NOT NULL
);
"""


def test_old_records_without_the_new_fields_still_load_and_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite3"
    old_passage = {
        "id": "c0",
        "source": "overview.pdf",
        "page": 1,
        "fused": 0.03,
        "dense": 0.4,
        "keyword": 1.5,
    }
    with sqlite3.connect(path) as db:
        db.executescript(_FIRST_SCHEMA)
        db.execute(
            "INSERT INTO interactions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "old-1",
                "2025-01-01T09:00:00.000000Z",
                "web",
                "u1",
                "",
                IN_CORPUS,
                "answer",
                None,
                IN_CORPUS_REPLY,
                "",
                json.dumps([{"number": 1, "source": "overview.pdf", "page": 1, "id": "c0"}]),
                json.dumps([old_passage]),
                None,
                "scripted",
                "abc123",
                json.dumps({"retrieve_s": 0.1, "wall_s": 0.2}),
            ),
        )
    db.close()
    when = datetime(2025, 1, 2, tzinfo=UTC)
    store = SqliteAuditStore(path, retention_days=0, clock=lambda: when)
    old = store.get("old-1")
    assert old is not None and old.answer_text == IN_CORPUS_REPLY
    assert old.short_answer is None and old.standalone_question is None
    assert old.passages == [old_passage]

    # New records go into the same (upgraded) store beside the old one.
    assistant = Assistant(
        pipeline_with(
            ScriptedGenerator(IN_CORPUS_REPLY),
            short_answer="August 2024",
            reranker=ScriptedReranker({"c0": 3.0}),
        ),
        store,
    )
    new = assistant.ask(IN_CORPUS, channel="api", principal=asker()).interaction_id
    assert [i.id for i in store.interactions()] == ["old-1", new]

    monkeypatch.setenv("CHATBOT_AUDIT__PATH", str(path))
    monkeypatch.setenv("CHATBOT_AUDIT__RETENTION_DAYS", "0")
    runner = CliRunner()
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(audit_cli, ["export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["short_answer"]) for r in rows] == [
        ("old-1", None),
        (new, "August 2024"),
    ]
    assert "rerank" not in rows[0]["passages"][0] and rows[1]["passages"][0]["rerank"] == 3.0

    out_csv = tmp_path / "audit.csv"
    result = runner.invoke(audit_cli, ["export", "--format", "csv", "--out", str(out_csv)])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(out_csv.open()))
    assert [r["short_answer"] for r in table] == ["", "August 2024"]
    assert json.loads(table[1]["passages"])[0]["rerank"] == 3.0


def test_the_postgres_backend_without_a_url_names_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATBOT_AUDIT__BACKEND", "postgres")
    monkeypatch.setenv("CHATBOT_AUDIT__POSTGRES_URL", " ")
    with pytest.raises(ConfigurationError, match="CHATBOT_AUDIT__POSTGRES_URL") as caught:
        open_audit(Settings(_env_file=None))  # type: ignore[call-arg]
    assert "CHATBOT_INDEX__POSTGRES_URL" in str(caught.value)
    result = CliRunner().invoke(audit_cli, ["purge"])
    assert result.exit_code == 2 and "CHATBOT_AUDIT__POSTGRES_URL" in result.output
