"""One contract suite for the audit stores, run against SQLite and a real
PostgreSQL: what is recorded comes back whole, in order, filtered by
``since``, feedback only from the asker, and retention purges on open, on
write and on demand, all by the store's injected clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatbot.audit import AuditStore, Denial, Failure, Interaction
from chatbot.errors import UnknownInteractionError

T0 = datetime(2025, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)

Clock = list[datetime]
Opener = Callable[..., AuditStore]


def interaction(n: int, when: datetime, user: str = "alice") -> Interaction:
    return Interaction(
        id=f"i-{n:03d}",
        timestamp=when,
        channel="api",
        user_id=user,
        conversation_id="conv-1",
        question=f"存款保障計劃保障多少? ({n})",
        decision="answer",
        refusal_reason=None,
        answer_text="Up to HKD 800,000 [1].",
        detail="",
        citations=[{"number": 1, "source": "dps.pdf", "page": 2, "id": "c0"}],
        passages=[
            {
                "id": "c0",
                "source": "dps.pdf",
                "page": 2,
                "fused": 0.0325,
                "dense": 0.61,
                "keyword": 3.25,
                "rerank": 7.5,
            },
            {
                "id": "c1",
                "source": "cards.md",
                "page": None,
                "fused": 0.01,
                "dense": 0.2,
                "keyword": 0.0,
            },
        ],
        evidence={
            "best_dense": 0.61,
            "coverage": 1.0,
            "language": "zh",
            "missing": [],
            "reader": None,
        },
        model="scripted",
        settings_version="abc123def456",
        timings={"retrieve_s": 0.01, "wall_s": 0.30000000000000004},
        standalone_question="How much does the scheme protect?",
        short_answer="HKD 800,000",
        principal_groups=("retail", "staff"),
        audience=("staff",),
    )


def refusal(n: int, when: datetime) -> Interaction:
    return replace(
        interaction(n, when),
        decision="refusal",
        refusal_reason="no_evidence",
        answer_text="I cannot answer that from the documents.",
        detail="best dense 0.10 < 0.30",
        citations=[],
        evidence=None,
        model="",
        standalone_question=None,
        short_answer=None,
        principal_groups=(),
        audience=(),
    )


def failure(n: int, when: datetime) -> Failure:
    return Failure(
        f"f-{n:03d}", when, "slack", "bob", ("staff",), "t-1", "why?", "llm_timeout", "boom", 1.25
    )


def denial(n: int, when: datetime) -> Denial:
    return Denial(when, "api", f"mallory-{n}", ("guest",), "audit_export", "not in the group")


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=[pytest.mark.real, pytest.mark.postgres])]
)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """``open_store(clock, retention_days=30)``: a store on this test's own
    file or schema; a second call opens the same trail again."""
    opened: list[AuditStore] = []
    schema = f"audit_{uuid.uuid4().hex[:12]}"

    def open_(clock: Clock, retention_days: int = 30) -> AuditStore:
        store: AuditStore
        if request.param == "postgres":
            from chatbot.adapters.pg_audit import PostgresAuditStore

            url = request.getfixturevalue("postgres_url")
            store = PostgresAuditStore(
                url, schema=schema, retention_days=retention_days, clock=lambda: clock[0]
            )
        else:
            from chatbot.adapters.sqlite_audit import SqliteAuditStore

            store = SqliteAuditStore(
                tmp_path / "audit.sqlite3", retention_days, clock=lambda: clock[0]
            )
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


class TestAuditStoreContract:
    def test_an_interaction_comes_back_whole(self, open_store: Opener) -> None:
        store = open_store([T0])
        answer, refused = interaction(1, T0), refusal(2, T0)
        store.record(answer)
        store.record(refused)
        assert store.get(answer.id) == answer
        assert store.get(refused.id) == refused
        got = store.get(answer.id)
        assert got is not None and got.timestamp.tzinfo is UTC
        assert got.to_json() == answer.to_json()
        assert store.get("no-such-id") is None

    def test_interactions_oldest_first_ties_by_id_since_inclusive(self, open_store: Opener) -> None:
        store = open_store([T0 + timedelta(days=1)])
        later = T0 + timedelta(hours=2)
        for n, when in [(5, later), (3, T0), (4, T0), (1, T0 - timedelta(hours=1))]:
            store.record(interaction(n, when))
        assert [i.id for i in store.interactions()] == ["i-001", "i-003", "i-004", "i-005"]
        assert [i.id for i in store.interactions(T0)] == ["i-003", "i-004", "i-005"]
        assert [i.id for i in store.interactions(T0 + timedelta(microseconds=1))] == ["i-005"]
        assert list(store.interactions(later + timedelta(seconds=1))) == []

    def test_feedback_only_from_the_asker_in_arrival_order(self, open_store: Opener) -> None:
        clock = [T0]
        store = open_store(clock)
        store.record(interaction(1, T0, user="alice"))
        store.record(interaction(2, T0, user="svc for alice"))
        first = store.add_feedback("i-001", True, "  clear  ", asker="alice")
        assert (first.comment, first.timestamp) == ("clear", T0)
        store.add_feedback("i-002", False, asker="svc")  # the service that asked for alice
        store.add_feedback("i-001", False, "second thoughts")  # no asker: an operator
        for wrong, asker in [("i-001", "bob"), ("i-002", "alice"), ("nope", None)]:
            with pytest.raises(UnknownInteractionError):
                store.add_feedback(wrong, True, asker=asker)
        clock[0] = T0 + timedelta(minutes=5)
        store.add_feedback("i-002", True, "later")
        rows = [(f.interaction_id, f.helpful, f.comment) for f in store.feedback()]
        assert rows == [
            ("i-001", True, "clear"),
            ("i-002", False, ""),
            ("i-001", False, "second thoughts"),
            ("i-002", True, "later"),
        ]
        assert [f.comment for f in store.feedback(clock[0])] == ["later"]
        assert all(f.timestamp.tzinfo is UTC for f in store.feedback())

    def test_failures_and_denials_come_back_in_order_since(self, open_store: Opener) -> None:
        store = open_store([T0 + timedelta(days=1)])
        later = T0 + timedelta(minutes=1)
        store.record_failure(failure(2, T0))
        store.record_failure(failure(1, T0))
        store.record_failure(failure(3, later))
        store.record_denial(denial(2, T0))
        store.record_denial(denial(1, T0))
        store.record_denial(denial(3, later))
        assert store.failures() == [failure(1, T0), failure(2, T0), failure(3, later)]
        assert store.failures(later) == [failure(3, later)]
        assert store.denials() == [denial(2, T0), denial(1, T0), denial(3, later)]
        assert store.denials(later) == [denial(3, later)]
        assert store.failures()[0].timestamp.tzinfo is UTC
        assert store.denials()[0].to_json()["groups"] == ["guest"]

    def test_retention_purges_on_write_on_open_and_on_demand(self, open_store: Opener) -> None:
        clock = [T0]
        store = open_store(clock, retention_days=10)
        store.record(interaction(1, T0))
        store.add_feedback("i-001", True)
        store.record_failure(failure(1, T0))
        store.record_denial(denial(1, T0))
        clock[0] = T0 + timedelta(days=10)  # exactly at the limit: kept
        assert store.purge() == 0 and store.get("i-001") is not None
        clock[0] = T0 + timedelta(days=11)
        store.record(interaction(2, clock[0]))  # a write purges
        assert store.get("i-001") is None and store.feedback() == []
        assert store.failures() == [] and store.denials() == []
        assert [i.id for i in store.interactions()] == ["i-002"]

        store.record(interaction(3, clock[0] + timedelta(days=1)))
        clock[0] += timedelta(days=10, seconds=1)
        assert store.purge() == 1  # i-002 went, i-003 stays
        assert [i.id for i in store.interactions()] == ["i-003"]
        clock[0] += timedelta(days=30)
        reopened = open_store(clock, retention_days=10)  # opening purges
        assert list(reopened.interactions()) == []

    def test_retention_zero_keeps_everything(self, open_store: Opener) -> None:
        clock = [T0]
        store = open_store(clock, retention_days=0)
        store.record(interaction(1, T0))
        store.record_denial(denial(1, T0))
        clock[0] = T0 + timedelta(days=10_000)
        assert store.retention_days == 0
        assert store.purge() == 0
        store.record(interaction(2, clock[0]))
        assert len(list(store.interactions())) == 2 and len(store.denials()) == 1

    def test_a_second_store_on_the_same_trail_sees_every_record(self, open_store: Opener) -> None:
        clock = [T0]
        one, two = open_store(clock), open_store(clock)
        one.record(interaction(1, T0))
        two.record(interaction(2, T0))
        two.add_feedback("i-001", True, asker="alice")
        one.record_denial(denial(1, T0))
        for store in (one, two):
            assert [i.id for i in store.interactions()] == ["i-001", "i-002"]
            assert [f.interaction_id for f in store.feedback()] == ["i-001"]
            assert len(store.denials()) == 1
        assert one.now() == T0
