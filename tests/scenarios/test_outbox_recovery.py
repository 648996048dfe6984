"""Crash after send: Slack accepted a post, the process died before recording it. With the history
scopes the next drainer finds the post by its metadata and records it; without, it posts again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from slack_sdk import WebClient

from bot.slack.drainer import OutboxDrainer
from bot.storage.outbox import OutboxStore
from bot.storage.schema import MIGRATIONS, outbox, schema_version
from bot.storage.store import Store
from devstack.clock import FakeClock
from localslack import BOT_TOKEN, BOT_USER, LocalSlack, Message, Workspace

ALERTS = "C0ALERTS"
HISTORY = ("channels:history", "groups:history")


class Crash(Exception):
    """The process died here."""


class DiesAfterSlackAnswers(OutboxStore):
    """A store whose 'record sent' step fails once, after Slack accepted the post."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.engine)
        self.crashes = 1

    def mark_sent(self, item_id: int, ts: str, now: datetime) -> None:
        if self.crashes:
            self.crashes -= 1
            raise Crash(f"died before recording row {item_id} as {ts}")
        super().mark_sent(item_id, ts, now)


@pytest.fixture
def slack(clock: FakeClock) -> Iterator[LocalSlack]:
    running = LocalSlack(Workspace(clock=lambda: clock().timestamp())).start()
    yield running
    running.close()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


def client_for(slack: LocalSlack) -> WebClient:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=10)
    client.retry_handlers = []
    return client


def enqueue(store: Store, clock: FakeClock, text: str, thread_outbox: int | None = None) -> int:
    watch = OutboxStore(store.engine)
    with watch.begin() as conn:
        return watch.enqueue(
            conn, channel=ALERTS, payload={"text": text}, now=clock(), thread_outbox=thread_outbox
        )


def posts(slack: LocalSlack, text: str) -> list[Message]:
    return [m for m in slack.workspace.snapshot(ALERTS) if m.user == BOT_USER and m.text == text]


def crash_while_sending(slack: LocalSlack, store: Store, clock: FakeClock, row: int) -> None:
    dying = OutboxDrainer(client_for(slack), DiesAfterSlackAnswers(store))
    with pytest.raises(Crash):
        dying.drain(clock())
    assert OutboxStore(store.engine).claims().keys() == {row}


def test_with_history_the_post_is_found_and_recorded_once(
    slack: LocalSlack, store: Store, clock: FakeClock
) -> None:
    slack.workspace.grant(*HISTORY)
    row = enqueue(store, clock, "node-1 preempted")
    crash_while_sending(slack, store, clock, row)
    [sent] = posts(slack, "node-1 preempted")
    assert sent.metadata == {"event_type": "tpubot_outbox", "event_payload": {"row": row}}
    watch = OutboxStore(store.engine)
    restarted = OutboxDrainer(client_for(slack), watch, recover_from_history=True)
    clock.advance(5)  # a fresh claim may be another replica's send in flight: hands off
    assert restarted.drain(clock()) == 0 and watch.depth() == 1
    assert slack.workspace.calls_to("conversations.history") == []
    clock.advance(30)
    restarted.drain(clock())
    assert watch.depth() == 0 and watch.sent_ts(row) == sent.ts
    assert len(posts(slack, "node-1 preempted")) == 1
    assert len(slack.workspace.calls_to("conversations.history", ok=True)) == 1
    # A reply in its thread: the thread is read (replies are not in the channel's history).
    reply = enqueue(store, clock, "node-1 recovered", thread_outbox=row)
    crash_while_sending(slack, store, clock, reply)
    clock.advance(60)
    OutboxDrainer(client_for(slack), watch, recover_from_history=True).drain(clock())
    [replied] = posts(slack, "node-1 recovered")
    assert replied.thread_ts == sent.ts and watch.sent_ts(reply) == replied.ts
    assert len(slack.workspace.calls_to("conversations.replies", ok=True)) == 1


@pytest.mark.parametrize("scopes_granted", [False, True])
def test_without_history_it_is_posted_again(
    slack: LocalSlack, store: Store, clock: FakeClock, scopes_granted: bool
) -> None:
    """Flag on but scopes missing (missing_scope), or scopes there but the flag off."""
    if scopes_granted:
        slack.workspace.grant(*HISTORY)
    row = enqueue(store, clock, "node-2 preempted")
    crash_while_sending(slack, store, clock, row)
    watch = OutboxStore(store.engine)
    restarted = OutboxDrainer(client_for(slack), watch, recover_from_history=not scopes_granted)
    clock.advance(60)
    restarted.drain(clock())
    twice = posts(slack, "node-2 preempted")
    assert len(twice) == 2 and watch.sent_ts(row) == twice[1].ts and watch.depth() == 0
    refused = slack.workspace.calls_to("conversations.history", ok=False)
    assert [c.error for c in refused] == ([] if scopes_granted else ["missing_scope"])
    assert slack.workspace.calls_to("conversations.history", ok=True) == []
    # Once refused, the drainer stops asking: the next crash costs no second refusal.
    again = enqueue(store, clock, "node-3 preempted")
    crash_while_sending(slack, store, clock, again)
    clock.advance(60)
    restarted.drain(clock())
    assert len(posts(slack, "node-3 preempted")) == 2
    assert len(slack.workspace.calls_to("conversations.history")) == len(refused)


def test_an_older_database_gets_the_claim_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # as a version-3 database was
        conn.execute(sa.text("ALTER TABLE outbox DROP COLUMN claimed_at"))
        conn.execute(sa.update(schema_version).values(version=3))
    store = Store(url)
    try:
        assert store.schema_version() == len(MIGRATIONS)
        columns = {c["name"] for c in sa.inspect(store.engine).get_columns(outbox.name)}
        assert "claimed_at" in columns
    finally:
        store.close()
        engine.dispose()


def test_a_version_4_database_gets_owners_note_threads_and_value_ages(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url).close()
    engine = sa.create_engine(url)
    dropped = {
        "approvals": ["attempt_owner"],
        "outbox": ["fallback_thread_outbox", "fallback_thread_ts"],
        "watch_state": ["updated_at"],
    }
    with engine.begin() as conn:  # as a version-4 database was
        for table, columns in dropped.items():
            for column in columns:
                conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(sa.update(schema_version).values(version=4))
    store = Store(url)
    try:
        assert store.schema_version() == len(MIGRATIONS)
        for table, columns in dropped.items():
            present = {c["name"] for c in sa.inspect(store.engine).get_columns(table)}
            assert set(columns) <= present, table
    finally:
        store.close()
        engine.dispose()


@pytest.mark.parametrize("recover", [True, False])
def test_a_lost_answer_is_looked_for_too(
    slack: LocalSlack, store: Store, clock: FakeClock, recover: bool
) -> None:
    """Slack posted it and answered 500 (or the connection dropped): the claim stays."""
    slack.workspace.grant(*HISTORY)
    slack.workspace.fail(1, 500, methods=("chat.postMessage",), after_apply=True)
    row = enqueue(store, clock, "node-4 preempted")
    watch = OutboxStore(store.engine)
    drainer = OutboxDrainer(client_for(slack), watch, recover_from_history=recover)
    assert drainer.drain(clock()) == 0 and watch.claims().keys() == {row}
    clock.advance(5)  # past the backoff; no grace to wait: this drainer saw its send end
    drainer.drain(clock())
    assert watch.depth() == 0
    assert len(posts(slack, "node-4 preempted")) == (1 if recover else 2)
    assert watch.sent_ts(row) == posts(slack, "node-4 preempted")[-1].ts


def test_history_unreadable_for_a_while_backs_off_then_finds_it(
    slack: LocalSlack, store: Store, clock: FakeClock
) -> None:
    slack.workspace.grant(*HISTORY)
    slack.workspace.fail(1, 500, methods=("chat.postMessage",), after_apply=True)
    slack.workspace.fail(1, 503, methods=("conversations.history",))
    row = enqueue(store, clock, "node-5 preempted")
    watch = OutboxStore(store.engine)
    drainer = OutboxDrainer(client_for(slack), watch, recover_from_history=True)
    drainer.drain(clock())
    clock.advance(2)
    drainer.drain(clock())  # history answers 503: the row waits, claimed
    drainer.drain(clock())  # and is not asked about again before its backoff ends
    assert len(slack.workspace.calls_to("conversations.history")) == 1
    assert watch.claims().keys() == {row} and watch.depth() == 1
    clock.advance(10)
    drainer.drain(clock())
    assert watch.depth() == 0 and len(posts(slack, "node-5 preempted")) == 1
    assert len(slack.workspace.calls_to("conversations.history")) == 2
