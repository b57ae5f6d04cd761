"""The PostgreSQL audit trail against a real server: two replica processes
writing one trail that one ``chatbot-audit export`` returns whole, the CLI's
purge and export on it, what an operator sees when the URL, the server or a
permission is wrong, and replicas migrating together. (Its contract with the
SQLite store is ``tests/contracts/test_audit_contracts.py``.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from chatbot.adapters.pg_audit import PostgresAuditStore
from chatbot.audit import Denial, Failure, Interaction
from chatbot.audit_cli import main as audit_cli
from chatbot.compose import open_audit
from chatbot.errors import BoundaryError, ConfigurationError
from chatbot.settings import Settings

pytestmark = [pytest.mark.real, pytest.mark.postgres]

REPO_ROOT = Path(__file__).resolve().parents[2]
AUDIT_CLI = str(Path(sys.executable).parent / "chatbot-audit")

# One app replica: the real Assistant on the fake pipeline, its audit store
# from the environment (as every entry point builds it), started on a line
# from stdin so the two replicas write at the same time.
REPLICA = r"""
import sys
from chatbot.assistant import Assistant
from chatbot.compose import build_audit
from chatbot.settings import Settings
from tests.builders import IN_CORPUS, IN_CORPUS_REPLY, OFF_TOPIC, asker, pipeline_with
from tests.fakes_llm import ScriptedGenerator

name, count = sys.argv[1], int(sys.argv[2])
audit = build_audit(Settings(_env_file=None))
assistant = Assistant(pipeline_with(ScriptedGenerator(*[IN_CORPUS_REPLY] * count)), audit)
print("ready", flush=True)
sys.stdin.readline()
for n in range(count):
    question = IN_CORPUS if n % 2 else OFF_TOPIC
    recorded = assistant.ask(question, channel="api", principal=asker(name),
                             conversation_id=f"{name}-{n}")
    print(recorded.interaction_id, flush=True)
assistant.deny("api", name, frozenset({"guest"}), "audit_export", "not in the auditor group")
audit.close()
"""


def schema() -> str:
    return f"audit_{uuid.uuid4().hex[:12]}"


def interaction(n: int, when: datetime) -> Interaction:
    return Interaction(
        id=f"i-{n}",
        timestamp=when,
        channel="web",
        user_id="alice",
        conversation_id="",
        question="What is covered?",
        decision="refusal",
        refusal_reason="no_evidence",
        answer_text="I cannot answer that from the documents.",
        detail="",
        citations=[],
        passages=[],
        evidence=None,
        model="",
        settings_version="v",
        timings={"wall_s": 0.1},
    )


def test_two_replica_processes_share_one_trail_and_one_export(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "CHATBOT_AUDIT__BACKEND": "postgres",
        # No CHATBOT_AUDIT__POSTGRES_URL: the audit shares the index's URL.
        "CHATBOT_INDEX__POSTGRES_URL": postgres_url,
        "CHATBOT_AUDIT__POSTGRES_SCHEMA": schema(),
        "PYTHONPATH": str(REPO_ROOT),
    }
    count = 12
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", REPLICA, name, str(count)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("replica-a", "replica-b")
    ]
    for replica in replicas:
        assert replica.stdout is not None and replica.stdout.readline().strip() == "ready"
    for replica in replicas:
        assert replica.stdin is not None
        replica.stdin.write("go\n")
        replica.stdin.flush()
    written: set[str] = set()
    for replica in replicas:
        out, _ = replica.communicate(timeout=120)
        assert replica.returncode == 0
        written |= set(out.split())
    assert len(written) == 2 * count

    out = tmp_path / "audit.jsonl"
    export = subprocess.run(
        [AUDIT_CLI, "export", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert export.returncode == 0, export.stderr
    assert f"wrote {2 * count} interactions" in export.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["id"] for r in rows} == written
    assert {r["user_id"] for r in rows} == {"replica-a", "replica-b"}
    assert {r["decision"] for r in rows} == {"answer", "refusal"}
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps)

    denials = tmp_path / "denials.jsonl"
    export = subprocess.run(
        [AUDIT_CLI, "export", "--table", "denials", "--out", str(denials)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert export.returncode == 0, export.stderr
    who = {json.loads(line)["principal"] for line in denials.read_text().splitlines()}
    assert who == {"replica-a", "replica-b"}


def test_the_cli_purges_and_exports_the_postgres_trail(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = schema()
    now = datetime.now(UTC)
    old = now - timedelta(days=40)
    seeding = PostgresAuditStore(postgres_url, schema=name, retention_days=0)
    seeding.record(interaction(1, old))
    seeding.record(interaction(2, now))
    seeding.add_feedback("i-1", True, "kept until purged")
    seeding.record_failure(Failure("f-1", old, "web", "alice", (), "", "q", "busy", "m", 0.1))
    seeding.record_failure(Failure("f-2", now, "web", "alice", (), "", "q", "busy", "m", 0.1))
    seeding.record_denial(Denial(old, "api", "mallory", (), "admin", "not an admin"))
    seeding.close()

    monkeypatch.setenv("CHATBOT_AUDIT__BACKEND", "postgres")
    monkeypatch.setenv("CHATBOT_AUDIT__POSTGRES_URL", postgres_url)
    monkeypatch.setenv("CHATBOT_AUDIT__POSTGRES_SCHEMA", name)
    monkeypatch.setenv("CHATBOT_AUDIT__RETENTION_DAYS", "0")
    runner = CliRunner()
    out = tmp_path / "before.jsonl"
    result = runner.invoke(audit_cli, ["export", "--out", str(out), "--table", "feedback"])
    assert result.exit_code == 0, result.output
    assert "kept until purged" in out.read_text()

    monkeypatch.setenv("CHATBOT_AUDIT__RETENTION_DAYS", "30")
    result = runner.invoke(audit_cli, ["purge"])
    assert result.exit_code == 0, result.output
    # Opening the store already purges, so the count may be 0; the rows are gone.
    assert re.search(r"purged \d+ interactions older than 30 days", result.output)

    out_csv = tmp_path / "failures.csv"
    result = runner.invoke(
        audit_cli, ["export", "--format", "csv", "--table", "failures", "--out", str(out_csv)]
    )
    assert result.exit_code == 0, result.output
    assert "f-2" in out_csv.read_text() and "f-1" not in out_csv.read_text()
    out = tmp_path / "after.jsonl"
    result = runner.invoke(audit_cli, ["export", "--out", str(out)])
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["i-2"]
    result = runner.invoke(audit_cli, ["export", "--table", "denials", "--out", str(out)])
    assert result.exit_code == 0 and out.read_text() == ""


def test_a_wrong_url_or_a_dead_server_names_the_audit_variable(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = "postgresql://u:hunter2@127.0.0.1:1/db"
    with pytest.raises(BoundaryError, match="cannot connect to PostgreSQL at") as caught:
        PostgresAuditStore(dead, connect_timeout_s=2)
    assert "postgresql://u@127.0.0.1:1/db" in str(caught.value)
    assert "CHATBOT_AUDIT__POSTGRES_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="CHATBOT_AUDIT__POSTGRES_URL is not a"):
        PostgresAuditStore("postgresql://x@127.0.0.1:5432/db?nonsense_option=1")
    with pytest.raises(ConfigurationError, match="CHATBOT_AUDIT__POSTGRES_SCHEMA"):
        PostgresAuditStore(postgres_url, schema="Audit; DROP")

    # Through the settings: the URL borrowed from the index names that variable,
    # and the CLI turns the error into one sentence and exit status 2.
    monkeypatch.setenv("CHATBOT_AUDIT__BACKEND", "postgres")
    monkeypatch.setenv("CHATBOT_INDEX__POSTGRES_URL", dead)
    monkeypatch.setenv("CHATBOT_INDEX__POSTGRES_TIMEOUT_S", "2")
    with pytest.raises(BoundaryError, match="CHATBOT_INDEX__POSTGRES_URL"):
        open_audit(Settings(_env_file=None))  # type: ignore[call-arg]
    result = CliRunner().invoke(audit_cli, ["export", "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
    assert "cannot connect to PostgreSQL" in result.output and "hunter2" not in result.output


def test_permissions_the_first_run_and_the_app_need(postgres_url: str) -> None:
    name = schema()
    base, database = postgres_url.rsplit("/", 1)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        for role in ("audit_nobody", "audit_app"):
            admin.execute(f"DROP OWNED BY {role}" if _exists(admin, role) else "SELECT 1")
            admin.execute(f"DROP ROLE IF EXISTS {role}")
            admin.execute(f"CREATE ROLE {role} LOGIN")
    nobody = base.replace("boundary@", "audit_nobody@") + "/" + database
    with pytest.raises(ConfigurationError, match="lacks a permission") as caught:
        PostgresAuditStore(nobody, schema=name)
    assert "`chatbot-audit purge`" in str(caught.value)

    # The owner creates the tables once; then a role with only SELECT, INSERT
    # and DELETE (and the sequences' USAGE) runs the app: no CREATE, no UPDATE.
    PostgresAuditStore(postgres_url, schema=name).close()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"GRANT USAGE ON SCHEMA {name} TO audit_app")
        admin.execute(f"GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA {name} TO audit_app")
        admin.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {name} TO audit_app")
    app_url = base.replace("boundary@", "audit_app@") + "/" + database
    when = [datetime.now(UTC) - timedelta(days=400)]
    store = PostgresAuditStore(app_url, schema=name, retention_days=365, clock=lambda: when[0])
    store.record(interaction(1, when[0]))
    store.add_feedback("i-1", False, "wrong")
    store.record_denial(Denial(when[0], "api", "x", (), "ask", "unknown user"))
    when[0] = datetime.now(UTC)
    store.record(interaction(2, when[0]))  # purges i-1 and its feedback
    assert [i.id for i in store.interactions()] == ["i-2"] and store.feedback() == []
    store.close()


def _exists(conn: psycopg.Connection[tuple[object, ...]], role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def test_replicas_opening_together_migrate_once(postgres_url: str) -> None:
    name = schema()
    opened: list[PostgresAuditStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(PostgresAuditStore(postgres_url, schema=name, pool_size=1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(opened) == 4
    opened[0].record(interaction(1, datetime.now(UTC)))
    assert [i.id for i in opened[3].interactions()] == ["i-1"]
    for store in opened:
        store.close()
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(f"SELECT key, value FROM {name}.meta").fetchall()
    assert rows == [("schema_version", "1")]


def test_a_write_skips_the_purge_another_replica_is_running(postgres_url: str) -> None:
    name = schema()
    when = [datetime.now(UTC) - timedelta(days=400)]
    store = PostgresAuditStore(postgres_url, schema=name, retention_days=365, clock=lambda: when[0])
    store.record(interaction(1, when[0]))
    when[0] = datetime.now(UTC)
    with psycopg.connect(postgres_url) as other:  # holds the purge lock, as a purging replica
        other.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"boundary-audit-purge:{name}",),
        )
        store.record(interaction(2, when[0]))  # does not wait for it
        assert [i.id for i in store.interactions()] == ["i-1", "i-2"]
    assert store.purge() == 1  # the lock is free again: the next purge does it
    assert [i.id for i in store.interactions()] == ["i-2"]
    store.close()
