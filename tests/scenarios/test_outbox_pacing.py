"""The drainer's pace: a channel gets a short burst, then about one message a second; channels
are paced apart; order within a channel holds (a reply never overtakes its parent)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack.drainer import OutboxDrainer
from bot.storage.outbox import OutboxStore
from bot.storage.store import Store
from devstack.clock import FakeClock
from localslack import BOT_TOKEN, BOT_USER, LocalSlack, Workspace

ALERTS, VISION = "C0ALERTS", "C0VISION"


@pytest.fixture
def slack(clock: FakeClock) -> Iterator[LocalSlack]:
    running = LocalSlack(Workspace(clock=lambda: clock().timestamp())).start()
    running.workspace.add_channel(VISION, "vision")
    yield running
    running.close()


@pytest.fixture
def watch(database_url: str) -> Iterator[OutboxStore]:
    store = Store(database_url)
    yield OutboxStore(store.engine)
    store.close()


@pytest.fixture
def drainer(slack: LocalSlack, watch: OutboxStore) -> OutboxDrainer:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=10)
    client.retry_handlers = []
    return OutboxDrainer(client, watch, burst=3)


def enqueue(
    watch: OutboxStore, clock: FakeClock, channel: str, text: str, parent: int | None = None
) -> int:
    with watch.begin() as conn:
        return watch.enqueue(
            conn, channel=channel, payload={"text": text}, now=clock(), thread_outbox=parent
        )


def texts(slack: LocalSlack, channel: str) -> list[str]:
    return [m.text for m in slack.workspace.snapshot(channel) if m.user == BOT_USER]


def test_a_burst_then_one_a_second(
    drainer: OutboxDrainer, watch: OutboxStore, slack: LocalSlack, clock: FakeClock
) -> None:
    for i in range(6):
        enqueue(watch, clock, ALERTS, f"incident {i}")
    assert drainer.drain(clock()) == 3  # what one tick found goes out together...
    assert drainer.drain(clock()) == 0  # ...and then the channel waits
    clock.advance(0.95)  # the job's own jitter does not cost a whole extra second
    assert drainer.drain(clock()) == 1
    clock.advance(0.5)
    assert drainer.drain(clock()) == 0
    clock.advance(0.5)
    assert drainer.drain(clock()) == 1
    clock.advance(10)  # a quiet spell refills the bucket, no further than the burst
    assert drainer.drain(clock()) == 1  # (only one left)
    assert texts(slack, ALERTS) == [f"incident {i}" for i in range(6)]


def test_a_long_run_averages_one_a_second_per_channel(
    drainer: OutboxDrainer, watch: OutboxStore, slack: LocalSlack, clock: FakeClock
) -> None:
    for i in range(30):
        enqueue(watch, clock, ALERTS, f"a{i}")
        enqueue(watch, clock, VISION, f"v{i}")
    sent = []
    for _ in range(20):  # a drain pass every second, for 20 s
        sent.append(drainer.drain(clock()))
        clock.advance(1)
    # Each channel: its burst of 3, then one a second (the first pass spent the burst).
    assert sum(sent) == 2 * (3 + 19)
    assert texts(slack, ALERTS) == [f"a{i}" for i in range(22)]
    assert texts(slack, VISION) == [f"v{i}" for i in range(22)]


def test_a_reply_waits_for_its_parent_inside_a_burst(
    drainer: OutboxDrainer, watch: OutboxStore, slack: LocalSlack, clock: FakeClock
) -> None:
    root = enqueue(watch, clock, ALERTS, "root")
    enqueue(watch, clock, ALERTS, "reply", parent=root)
    enqueue(watch, clock, ALERTS, "after")
    assert drainer.drain(clock()) == 1  # the reply needs the root's ts; "after" keeps its turn
    assert drainer.drain(clock()) == 2  # the burst is not spent yet
    messages = [m for m in slack.workspace.snapshot(ALERTS) if m.user == BOT_USER]
    root_message = next(m for m in messages if m.text == "root")
    reply = next(m for m in messages if m.text == "reply")
    assert reply.thread_ts == root_message.ts
    assert [m.text for m in messages if not m.thread_ts] == ["root", "after"]


def test_after_a_rate_limit_the_channel_comes_back_one_at_a_time(
    drainer: OutboxDrainer, watch: OutboxStore, slack: LocalSlack, clock: FakeClock
) -> None:
    for i in range(5):
        enqueue(watch, clock, ALERTS, f"m{i}")
    slack.workspace.fail(1, status=429, retry_after=3, methods=("chat.postMessage",))
    assert drainer.drain(clock()) == 0  # ratelimited: the channel waits for Retry-After
    clock.advance(2)
    assert drainer.drain(clock()) == 0
    clock.advance(1)
    assert drainer.drain(clock()) == 1  # then one, not a burst that asks for another 429
    clock.advance(1)
    assert drainer.drain(clock()) == 1
    assert texts(slack, ALERTS) == ["m0", "m1"]
