"""The outbox retries only what can succeed later and sets everything else aside at once, so one
refused message never silences a channel, and a channel stuck behind a row being retried never
hides another channel's rows (issue 18, part 1). Real localslack over HTTP, real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from slack_sdk import WebClient

from bot.core.messages import Notice, Tone
from bot.core.records import MessageRef
from bot.runtime.metrics import Metrics
from bot.slack.chat import Outbox
from bot.slack.drainer import Caps, OutboxDrainer
from bot.storage.outbox import OutboxStore
from bot.storage.store import Store
from devstack.clock import FakeClock
from localslack import BOT_TOKEN, BOT_USER, LocalSlack, Workspace

ALERTS, ONCALL, VISION = "C0ALERTS", "C0ONCALL", "C0VISION"
GONE = "U0LEFT"  # a person Slack no longer lets the bot reach privately


@pytest.fixture
def slack(clock: FakeClock) -> Iterator[LocalSlack]:
    running = LocalSlack(Workspace(clock=lambda: clock().timestamp())).start()
    running.workspace.add_channel(VISION, "vision")
    running.workspace.add_user("U0OPER", "otto")
    yield running
    running.close()


@pytest.fixture
def watch(database_url: str) -> Iterator[OutboxStore]:
    store = Store(database_url)
    yield OutboxStore(store.engine)
    store.close()


def client_for(slack: LocalSlack, token: str = BOT_TOKEN) -> WebClient:
    client = WebClient(token=token, base_url=slack.api_url, timeout=10)
    client.retry_handlers = []
    return client


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def drainer(slack: LocalSlack, watch: OutboxStore, metrics: Metrics) -> OutboxDrainer:
    return OutboxDrainer(client_for(slack), watch, metrics, burst=3)


def post(watch: OutboxStore, clock: FakeClock, channel: str, text: str) -> int:
    with watch.begin() as conn:
        return watch.enqueue(conn, channel=channel, payload={"text": text}, now=clock())


def note(
    watch: OutboxStore, clock: FakeClock, channel: str, user: str, text: str, thread: int | None
) -> int:
    """A private note through the Outbox port, with its request's thread as the other way."""
    with watch.begin() as conn:
        return Outbox(watch).ephemeral(
            conn,
            channel,
            user,
            Notice(text, Tone.WARNING),
            now=clock(),
            or_in_thread=MessageRef(ONCALL, thread) if thread else None,
        )


def texts(slack: LocalSlack, channel: str) -> list[str]:
    return [m.text for m in slack.workspace.snapshot(channel) if m.user == BOT_USER]


def set_aside(metrics: Metrics, method: str, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "tpubot_outbox_set_aside_total", {"method": method, "reason": reason}
    )
    return value or 0.0


def drain_for(drainer: OutboxDrainer, clock: FakeClock, seconds: int) -> None:
    for _ in range(seconds):
        drainer.drain(clock())
        clock.advance(1)


def test_a_note_to_someone_who_left_is_set_aside_at_once_and_told_in_the_thread(
    drainer: OutboxDrainer,
    watch: OutboxStore,
    slack: LocalSlack,
    clock: FakeClock,
    metrics: Metrics,
) -> None:
    request = post(watch, clock, ONCALL, "Approval needed: stop node-1")
    note(watch, clock, ALERTS, GONE, "ada denied your request to stop node-1.", request)
    for i in range(5):
        post(watch, clock, ALERTS, f"incident {i}")
    drain_for(drainer, clock, 5)
    assert texts(slack, ALERTS) == [f"incident {i}" for i in range(5)]  # nothing held up
    refused = slack.workspace.calls_to("chat.postEphemeral", ok=False)
    assert [c.error for c in refused] == ["user_not_in_channel"]  # tried once, never again
    assert set_aside(metrics, "chat.postEphemeral", "user_not_in_channel") == 1
    [root] = [m for m in slack.workspace.snapshot(ONCALL) if not m.thread_ts]
    [told] = [m for m in slack.workspace.snapshot(ONCALL) if m.thread_ts == root.ts]
    assert told.text.startswith(f"<@{GONE}>") and "denied your request" in told.text
    assert f"<@{GONE}>" in str(told.blocks[0]) and "user_not_in_channel" in str(told.blocks[0])
    assert watch.depth() == 0


def test_a_note_without_a_thread_is_only_set_aside(
    drainer: OutboxDrainer, watch: OutboxStore, slack: LocalSlack, clock: FakeClock
) -> None:
    note(watch, clock, ALERTS, GONE, "your stop started", None)
    drain_for(drainer, clock, 2)
    assert watch.depth() == 0 and len(slack.workspace.calls_to("chat.postEphemeral")) == 1
    assert texts(slack, ONCALL) == []


def test_notes_and_messages_never_wait_for_each_other(
    drainer: OutboxDrainer, watch: OutboxStore, slack: LocalSlack, clock: FakeClock
) -> None:
    for i in range(3):
        post(watch, clock, ALERTS, f"incident {i}")  # the burst is spent on these
    post(watch, clock, ALERTS, "incident 3")  # waits for the bucket
    note(watch, clock, ALERTS, "U0OPER", "your request is waiting", None)
    assert drainer.drain(clock()) == 4  # the note does not wait behind incident 3
    assert [m.ephemeral_for for m in slack.workspace.snapshot(ALERTS)][-1] == "U0OPER"


def test_a_channel_stuck_behind_a_retried_row_never_hides_another_channels_rows(
    drainer: OutboxDrainer, watch: OutboxStore, slack: LocalSlack, clock: FakeClock
) -> None:
    stuck = post(watch, clock, ALERTS, "the head, being retried")
    for i in range(600):  # more than any fixed window of the oldest rows
        post(watch, clock, ALERTS, f"behind {i}")
    post(watch, clock, VISION, "vision incident")
    watch.retry_later(stuck, clock() + timedelta(hours=1), "HTTP 503", keep_claim=False)
    assert drainer.drain(clock()) == 1
    assert texts(slack, VISION) == ["vision incident"]
    assert texts(slack, ALERTS) == []  # order is kept behind the head


def test_transient_failures_are_retried_and_everything_else_set_aside(
    drainer: OutboxDrainer,
    watch: OutboxStore,
    slack: LocalSlack,
    clock: FakeClock,
    metrics: Metrics,
) -> None:
    slack.workspace.fail(2, status=503, methods=("chat.postMessage",))
    post(watch, clock, ALERTS, "retried")
    drain_for(drainer, clock, 10)
    assert texts(slack, ALERTS) == ["retried"]
    # A block Slack refuses (invalid_blocks) is final: one call, set aside, the channel goes on.
    with watch.begin() as conn:
        watch.enqueue(
            conn, channel=ALERTS, now=clock(), payload={"text": "bad", "blocks": [{"type": "x"}]}
        )
    post(watch, clock, ALERTS, "after")
    drain_for(drainer, clock, 3)
    assert texts(slack, ALERTS) == ["retried", "after"]
    assert len(slack.workspace.calls_to("chat.postMessage", ok=False)) == 3
    assert set_aside(metrics, "chat.postMessage", "invalid_blocks") == 1


def test_a_row_that_keeps_failing_is_given_up_after_its_attempt_cap(
    slack: LocalSlack, watch: OutboxStore, clock: FakeClock, metrics: Metrics
) -> None:
    drainer = OutboxDrainer(client_for(slack), watch, metrics, caps=Caps(max_attempts=3))
    slack.workspace.fail(100, status=500, methods=("chat.postMessage",))
    post(watch, clock, ALERTS, "never accepted")
    drain_for(drainer, clock, 60)
    assert watch.depth() == 0
    assert len(slack.workspace.calls_to("chat.postMessage")) == 3
    assert set_aside(metrics, "chat.postMessage", "gave up") == 1


def test_a_row_older_than_its_age_cap_is_given_up(
    slack: LocalSlack, watch: OutboxStore, clock: FakeClock
) -> None:
    drainer = OutboxDrainer(client_for(slack), watch, caps=Caps(max_age=timedelta(minutes=10)))
    post(watch, clock, ALERTS, "stale")
    slack.workspace.fail(1, status=503, methods=("chat.postMessage",))
    drainer.drain(clock())
    clock.advance(11 * 60)
    post(watch, clock, ALERTS, "fresh")
    drain_for(drainer, clock, 3)
    assert texts(slack, ALERTS) == ["fresh"]


def test_a_refused_token_pauses_the_outbox_and_loses_nothing(
    slack: LocalSlack, watch: OutboxStore, clock: FakeClock
) -> None:
    bad = OutboxDrainer(client_for(slack, token="xoxb-revoked"), watch)
    for i in range(3):
        post(watch, clock, ALERTS, f"incident {i}")
    post(watch, clock, VISION, "vision incident")
    drain_for(bad, clock, 5)
    refused = slack.workspace.calls_to("chat.postMessage", ok=False)
    assert {c.error for c in refused} == {"invalid_auth"}
    assert len(refused) <= 3  # one try per pass, never the whole outbox
    assert watch.depth() == 4  # nothing set aside for a token problem
    rotated = OutboxDrainer(client_for(slack), watch)
    drain_for(rotated, clock, 600)
    assert texts(slack, ALERTS) == [f"incident {i}" for i in range(3)]
    assert texts(slack, VISION) == ["vision incident"]
