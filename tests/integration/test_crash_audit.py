"""Crash safety of the audit trail: SIGKILL a writer mid-write, lose nothing committed.

A child process writes audit records through the real ``SqliteAuditStore`` as fast
as it can (interactions, and now and then a denial and a feedback), printing
each record's key only after the call that committed it returned. The test
kills it with SIGKILL at seeded random moments, several times, each new
writer appending to the same file. Afterwards SQLite's integrity check must
pass, every printed key must be in the database, and the store must still
open and write.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.crash

SEED = 1515
KILLS = 8

WRITER = r"""
import sys, uuid
from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.audit import Denial, Interaction

store = SqliteAuditStore(__import__("pathlib").Path(sys.argv[1]))
print("ready", flush=True)
n = 0
while True:
    n += 1
    row = Interaction(
        id=str(uuid.uuid4()), timestamp=store.now(), channel="web", user_id="alice",
        conversation_id="c", question=f"question {n} " + "x" * (n % 300), decision="answer",
        refusal_reason=None, answer_text="an answer [1]", detail="",
        citations=[{"number": 1, "source": "a.pdf", "page": 1, "id": "c0"}],
        passages=[{"id": "c0", "source": "a.pdf", "page": 1, "fused": 0.5}], evidence=None,
        model="m", settings_version="v", timings={"wall_s": 0.1},
        principal_groups=("staff",), audience=("staff",),
    )
    store.record(row)
    print("i", row.id, flush=True)
    if n % 5 == 0:
        who = f"p-{uuid.uuid4()}"
        store.record_denial(Denial(store.now(), "web", who, ("staff",), "ask", "test"))
        print("d", who, flush=True)
    if n % 7 == 0:
        store.add_feedback(row.id, helpful=True, comment="ok")
        print("f", row.id, flush=True)
"""


def test_sigkill_mid_write_loses_no_committed_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    rng = random.Random(SEED)
    printed: dict[str, set[str]] = {"i": set(), "d": set(), "f": set()}
    for _ in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.8))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL
        # A line cut off by the kill has no newline: it was not confirmed.
        for line in out.splitlines(keepends=True):
            if line.endswith("\n"):
                kind, key = line.split()
                printed[kind].add(key)

    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in db.execute("SELECT id FROM interactions")}
        denied = {row[0] for row in db.execute("SELECT principal FROM denials")}
        rated = {row[0] for row in db.execute("SELECT interaction_id FROM feedback")}
    finally:
        db.close()
    assert len(printed["i"]) >= 10 * KILLS, "the writer hardly wrote: nothing was tested"
    assert printed["i"] <= stored, f"{len(printed['i'] - stored)} committed interactions lost"
    assert printed["d"] <= denied, f"{len(printed['d'] - denied)} committed denials lost"
    assert printed["f"] <= rated, f"{len(printed['f'] - rated)} committed feedbacks lost"
    # At most the record being written when killed is in the file unprinted.
    assert len(stored - printed["i"]) <= KILLS

    from chatbot.adapters.sqlite_audit import SqliteAuditStore

    store = SqliteAuditStore(path)
    assert {i.id for i in store.interactions()} == stored
    feedback = store.add_feedback(next(iter(printed["i"])), helpful=False, comment="after")
    assert feedback.comment == "after"
    print(
        f"audit crash: {KILLS} kills, {len(printed['i'])} interactions, "
        f"{len(printed['d'])} denials, {len(printed['f'])} feedbacks confirmed and found"
    )
