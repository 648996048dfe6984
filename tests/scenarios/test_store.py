"""The store on SQLite and on PostgreSQL: the same tests, both engines."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.core.records import Approval, ApprovalStatus, AuditEntry, TrackedOperation
from bot.storage.schema import MIGRATIONS, normalize_url
from bot.storage.store import Store
from devstack.clock import T0


def approval(i: str = "a1", minutes: int = 30) -> Approval:
    return Approval(
        id=i,
        action="stop",
        target="projects/p/locations/us-central1-b/nodes/n",
        requester="U1",
        requester_channel="C1",
        created_at=T0,
        expires_at=T0 + timedelta(minutes=minutes),
        reason="why not",
        params={"version": "2.12.0", "nested": {"a": [1, 2]}},
        node_state="READY",
        node_create_time=T0 - timedelta(days=1),
        request_id="req-1",
    )


@pytest.fixture
def store(database_url: str) -> Store:
    s = Store(database_url)
    yield s
    s.close()


def test_schema_is_created_and_upgrades_are_idempotent(database_url: str) -> None:
    first = Store(database_url)
    second = Store(database_url)  # a second replica starting on the same database
    assert first.schema_version() == second.schema_version() == len(MIGRATIONS)
    first.close()
    second.close()


def test_approval_round_trip(store: Store) -> None:
    store.add_approval(approval())
    got = store.get_approval("a1")
    assert got == approval()
    assert got is not None and got.created_at.tzinfo is not None
    assert store.get_approval("nope") is None


def test_compare_and_set_has_exactly_one_winner(store: Store) -> None:
    store.add_approval(approval())
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def decide(user: str) -> None:
        barrier.wait()
        won = store.transition_approval(
            "a1",
            from_status=ApprovalStatus.PENDING,
            to_status=ApprovalStatus.APPROVED,
            now=T0,
            user=user,
            unexpired=True,
        )
        if won is not None:
            winners.append(user)

    threads = [threading.Thread(target=decide, args=(f"U{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    decided = store.get_approval("a1")
    assert decided is not None and decided.decided_by == winners[0]
    assert decided.status is ApprovalStatus.APPROVED


def test_expired_requests_cannot_be_approved(store: Store) -> None:
    store.add_approval(approval("old", minutes=5))
    store.add_approval(approval("new", minutes=60))
    later = T0 + timedelta(minutes=10)
    assert [a.id for a in store.expired_approvals(later)] == ["old"]
    assert (
        store.transition_approval(
            "old",
            from_status=ApprovalStatus.PENDING,
            to_status=ApprovalStatus.APPROVED,
            now=later,
            unexpired=True,
        )
        is None
    )
    assert store.count_approvals(ApprovalStatus.PENDING) == 2


def test_operations(store: Store) -> None:
    op = TrackedOperation(
        name="projects/p/locations/z/operations/operation-1-a",
        target="projects/p/locations/z/nodes/n",
        verb="stop",
        requester="U1",
        channel="C1",
        thread_ts="1.1",
        created_at=T0,
    )
    store.add_operation(op)
    assert store.open_operations() == [op]
    assert store.operations_for(op.target) == [op]
    assert store.finish_operation(op.name, ended_at=T0, error_code=8, error_message="stockout")
    done = store.get_operation(op.name)
    assert done is not None and done.done and done.error_code == 8
    assert not store.finish_operation(op.name, ended_at=T0, error_code=None, error_message="")
    assert store.open_operations() == []


def test_audit_newest_first(store: Store) -> None:
    for i in range(5):
        store.audit(AuditEntry(T0 + timedelta(seconds=i), "U1", "stop", f"n{i}", "ok"))
    assert [e.target for e in store.latest_audit(3)] == ["n4", "n3", "n2"]


def test_postgres_url_means_psycopg() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
