"""Retention (issue 18, part 5): the leader deletes sent outbox rows, audit entries and long
listing queries past their age, and keeps every row something still points at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.core.messages import Notice
from bot.core.records import Incident, IncidentStatus
from bot.storage.schema import audit, outbox
from bot.storage.store import Store
from bot.storage.watch_store import WatchStore
from devstack.clock import FakeClock
from devstack.stack import ALERTS, GENERAL, OPERATOR, Stack


@pytest.fixture
def watch(database_url: str) -> Iterator[WatchStore]:
    store = Store(database_url)
    yield WatchStore(store)
    store.close()


def row_ids(watch: WatchStore) -> set[int]:
    with watch.begin() as conn:
        return {int(r.id) for r in conn.execute(sa.select(outbox.c.id)).all()}


def enqueue(watch: WatchStore, clock: FakeClock, **where: Any) -> int:
    with watch.begin() as conn:
        return watch.outbox.enqueue(
            conn, channel=ALERTS, payload={"text": "x"}, now=clock(), **where
        )


def test_old_sent_rows_go_and_every_row_still_pointed_at_stays(
    watch: WatchStore, clock: FakeClock
) -> None:
    root = enqueue(watch, clock)  # an incident's root: replies and edits still come
    reply = enqueue(watch, clock, thread_outbox=root)
    note = enqueue(watch, clock)
    parent = enqueue(watch, clock)  # the parent of a reply not sent yet
    with watch.begin() as conn:
        watch.add_incident(
            conn,
            Incident(
                id="i1",
                node="projects/p/locations/z/nodes/n",
                kind="preempted",
                channel=ALERTS,
                root_outbox=root,
                opened_at=clock(),
                last_event_at=clock(),
                status=IncidentStatus.OPEN,
            ),
        )
    for row in (root, reply, note, parent):
        watch.outbox.mark_sent(row, f"1.{row}", clock())
    waiting = enqueue(watch, clock, thread_outbox=parent)
    clock.advance(6 * 86400)
    recent = enqueue(watch, clock)
    watch.outbox.mark_sent(recent, "2.0", clock())
    clock.advance(2 * 86400)
    assert watch.prune_outbox(clock() - timedelta(days=7)) == 2
    assert row_ids(watch) == {root, parent, waiting, recent}


def test_the_leader_job_prunes_audit_outbox_and_listings(stack: Stack) -> None:
    long_query = "list project=ml-prod " + " ".join(f"label.k{i}=v{i}" for i in range(200))
    answer = stack.command(OPERATOR, long_query)
    assert "ref " in str(answer.blocks)  # its Next button carries a key, not the query
    stack.bot.watch.put(None, "second-step:x", "kept")  # not a listing: never pruned
    sent_before = stack.bot.watch.outbox.depth()
    assert sent_before == 0
    stack.clock.advance(100 * 86400)
    pruned = stack.bot.jobs.run("prune")
    assert pruned["audit"] >= 1 and pruned["listings"] == 1
    with stack.bot.store.engine.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar_one() == 0
    assert stack.bot.watch.get("second-step:x") == "kept"
    # A page button of the pruned listing (`ref KEY page=N`) says so, rather than nothing.
    [key] = re.findall(r"ref ([0-9a-f]{24})", str(answer.blocks))[:1]
    stale = stack.bot.dispatcher.click(OPERATOR, GENERAL, f"ref {key} page=1", stack.clock())
    assert isinstance(stale, Notice) and "too old" in stale.text
