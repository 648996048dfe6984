"""The watcher end to end: emulator events in, threaded Slack messages out, through the outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.slack.actions import ActionId
from devstack.admin import admin
from devstack.clock import FakeClock
from devstack.stack import ALERTS, APPROVALS, APPROVER, OPERATOR, Stack, start_stack
from devstack.waiting import eventually
from localslack import Message
from tpu_emulator import Emulator


def healthy(stack: Stack, project: str = "ml-prod", zone: str | None = None) -> list[str]:
    names = []
    for name in stack.emulator.node_names(project):
        node = stack.emulator.get_node(name)
        if (
            node["state"] == "READY"
            and node.get("health") == "HEALTHY"
            and (zone is None or name.split("/")[3] == zone)
        ):
            names.append(name)
    return names


def roots(stack: Stack, channel: str = ALERTS) -> list[Message]:
    return [m for m in stack.bot_messages(channel) if not m.thread_ts and not m.ephemeral_for]


def thread(stack: Stack, root: Message) -> list[Message]:
    return [m for m in stack.bot_messages(root.channel) if m.thread_ts == root.ts]


@pytest.fixture
def watched(stack: Stack) -> Stack:
    """A stack whose first poll (the seeded fleet's own trouble) is behind it."""
    stack.tick()
    return stack


def test_preemption_opens_one_root_and_recovery_resolves_it_in_the_thread(watched: Stack) -> None:
    stack = watched
    name = healthy(stack)[0]
    before = len(roots(stack))
    stack.emulator.inject(name, {"state": "PREEMPTED", "health": ""})
    stack.clock.advance(60)
    stack.tick()
    new = roots(stack)[before:]
    assert len(new) == 1 and "Preempted" in new[0].text and name.rsplit("/", 1)[1] in new[0].text
    assert any(b["type"] == "actions" for b in new[0].blocks)  # Acknowledge, Mute, Recreate
    # Nothing changes: nothing is posted.
    stack.clock.advance(60)
    stack.tick()
    assert len(roots(stack)) == before + 1 and thread(stack, new[0]) == []
    stack.emulator.inject(name, {"state": "READY", "health": "HEALTHY"})
    stack.clock.advance(60)
    stack.tick()
    replies = thread(stack, new[0])
    assert len(replies) == 1 and "recovered" in replies[0].text
    assert new[0].edited and "Resolved after 2 min" in new[0].text
    assert not any(b["type"] == "actions" for b in new[0].blocks)
    assert len(roots(stack)) == before + 1


def test_routes_send_a_teams_nodes_to_its_channel(watched: Stack) -> None:
    stack = watched
    watched_zones = {"us-central1-b", "europe-west4-a", "us-central1-a"}
    vision = next(
        n
        for n in healthy(stack, "ml-research")
        if stack.emulator.get_node(n)["labels"]["team"] == "vision"
        and n.split("/")[3] in watched_zones
    )
    stack.emulator.inject(vision, {"health": "UNHEALTHY_TENSORFLOW"})
    stack.clock.advance(60)
    before_alerts = len(roots(stack))
    stack.tick()
    assert len(roots(stack, "C0VISION")) == 1 and len(roots(stack)) == before_alerts


def test_symptoms_and_changes_reply_in_the_same_thread(watched: Stack) -> None:
    stack = watched
    name = healthy(stack)[0]
    stack.emulator.inject(name, {"health": "TIMEOUT"})
    stack.clock.advance(60)
    stack.tick()
    root = roots(stack)[-1]
    stack.emulator.inject(name, {"symptoms": [{"symptomType": "OUT_OF_MEMORY", "workerId": "3"}]})
    stack.clock.advance(60)
    stack.tick()
    stack.emulator.inject(name, {"state": "TERMINATED", "health": ""})
    stack.clock.advance(60)
    stack.tick()
    texts = [m.text for m in thread(stack, root)]
    assert len(texts) == 2 and "OUT_OF_MEMORY on worker 3" in texts[0] and "terminated" in texts[1]


def test_a_storm_makes_one_digest_and_batched_updates(tmp_path: Path, clock: FakeClock) -> None:
    emulator = Emulator(clock=clock, op_seconds=10, fleet=800, projects=1)
    from tpu_emulator.server import serve

    server = serve(emulator)
    config: dict[str, Any] = {
        "projects": [{"id": "ml-prod"}],
        "channels": {"alerts": ALERTS, "approvals": APPROVALS},
        "roles": {"operator": ["S0PLATFORM"]},
        "watch": {"storm_threshold": 5},
    }
    stack = start_stack(tmp_path, emulator, server, clock, config=config)
    try:
        stack.tick()
        zone = "us-central1-b"
        victims = healthy(stack, zone=zone)[:50]
        assert len(victims) == 50
        before = len(roots(stack))
        admin(server, "inject", {"names": victims, "state": "PREEMPTED", "health": ""})
        stack.clock.advance(60)
        stack.tick()
        new = roots(stack)[before:]
        assert len(new) == 1 and f"50 nodes in trouble in {zone}" in new[0].text
        assert "preempted 50" in str(new[0].blocks)
        admin(server, "inject", {"names": victims[:20], "state": "READY", "health": "HEALTHY"})
        stack.clock.advance(60)
        stack.tick()
        replies = thread(stack, new[0])
        assert len(replies) == 1 and replies[0].text == "20 changes"
        assert len(roots(stack)) == before + 1
        assert "30 still down" in new[0].text  # the root counts down as nodes recover
        answer = stack.click(OPERATOR, new[0], ActionId.ACK)
        assert "Acknowledged" in answer.text and f"<@{OPERATOR}>" in str(new[0].blocks)
        admin(server, "inject", {"names": victims[20:], "state": "READY", "health": "HEALTHY"})
        stack.clock.advance(60)
        stack.tick()
        assert "Resolved after 2 min: 50 nodes" in new[0].text
        assert not any(b["type"] == "actions" for b in new[0].blocks)
        assert len(roots(stack)) == before + 1
    finally:
        stack.close()


def test_slack_outage_delays_but_delivers_everything_once_in_order(watched: Stack) -> None:
    stack = watched
    names = healthy(stack)[:3]
    stack.ws.fail(4, 429, retry_after=3, methods=("chat.postMessage",))
    stack.ws.fail(3, 503, methods=("chat.postMessage",))
    for name in names:
        stack.emulator.inject(name, {"health": "TIMEOUT"})
    stack.clock.advance(60)
    stack.bot.jobs.run("poll_nodes")
    for name in names:
        stack.emulator.inject(name, {"health": "HEALTHY"})
    stack.clock.advance(60)
    stack.tick()
    accepted = [c for c in stack.ws.calls_to("chat.postMessage", ok=True)]
    refused = stack.ws.calls_to("chat.postMessage", ok=False)
    assert len(refused) == 7
    for name in names:
        node_id = name.rsplit("/", 1)[1]
        mine = [m for m in stack.bot_messages(ALERTS) if node_id in m.text]
        root = [m for m in mine if not m.thread_ts]
        assert len(root) == 1, [m.text for m in mine]
        replies = thread(stack, root[0])
        assert len(replies) == 1 and "recovered" in replies[0].text
    assert stack.bot.watch.outbox.depth() == 0
    # Slack's pace per channel: a burst of at most 3, else about one a second - no window of
    # w (fake) seconds saw more than w + 2 messages in one channel.
    times = sorted((call.channel, call.at) for call in accepted)
    for channel, start in times:
        for width in (1, 2, 5, 10):
            inside = [at for c, at in times if c == channel and start <= at < start + width]
            assert len(inside) <= width + 2, (channel, start, width, inside)


def test_restart_in_the_middle_of_an_incident(
    tmp_path: Path, emulator: Emulator, emulator_server: Any, clock: FakeClock
) -> None:
    first = start_stack(tmp_path, emulator, emulator_server, clock)
    first.tick()
    name = healthy(first)[0]
    emulator.inject(name, {"state": "PREEMPTED", "health": ""})
    clock.advance(60)
    first.tick()
    root = roots(first)[-1]
    slack = first.slack
    first.bot.close()  # the process goes away; the database and Slack stay
    from bot.app import build
    from bot.tpu.client import TpuClient
    from devstack.stack import Stack as StackType

    second = build(
        first.bot.settings, clock=clock, tpu=TpuClient(emulator_server.url, retries=0)
    ).start(port=0, scheduler=False)
    try:
        again = StackType(emulator, emulator_server, slack, second, clock)
        emulator.inject(name, {"state": "READY", "health": "HEALTHY"})
        clock.advance(60)
        again.tick()
        replies = thread(again, root)
        assert len(replies) == 1 and "recovered" in replies[0].text
        assert "Resolved" in root.text
    finally:
        second.close()
        slack.close()


def test_the_bots_own_stop_is_not_an_incident(watched: Stack) -> None:
    stack = watched
    name = next(
        n for n in healthy(stack) if stack.emulator.get_node(n)["acceleratorType"].endswith("-8")
    )
    stack.command(OPERATOR, "stop " + "/".join(name.split("/")[i] for i in (1, 3, 5)))
    request = stack.ws.wait_for(
        lambda: [m for m in stack.bot_messages(APPROVALS) if not m.thread_ts]
    )[-1]
    stack.click(APPROVER, request, ActionId.APPROVE)
    eventually(stack.bot.store.open_operations)
    before = len(roots(stack))
    for _ in range(3):
        stack.clock.advance(10)
        stack.tick()
        stack.bot.jobs.run("track_operations")
        stack.drain()
    assert stack.emulator.get_node(name)["state"] == "STOPPED"
    assert len(roots(stack)) == before
    replies = [m for m in stack.bot_messages(APPROVALS) if m.thread_ts == request.ts]
    assert any("finished: node is STOPPED" in m.text for m in replies)


def test_unreachable_zone_and_api_outage(watched: Stack) -> None:
    stack = watched
    before = len(stack.bot_messages(ALERTS))
    admin(stack.emulator_server, "faults", {"unreachable": ["us-central1-b", "europe-west4-a"]})
    stack.clock.advance(60)
    stack.tick()
    assert len(stack.bot_messages(ALERTS)) == before  # nothing "disappeared" or "recovered"
    admin(stack.emulator_server, "faults", {"unreachable": [], "errorRate": 1.0, "errorCode": 503})
    for _ in range(5):
        stack.clock.advance(60)
        stack.tick()
    notices = [m.text for m in stack.bot_messages(ALERTS)[before:]]
    assert len(notices) == 1 and "Monitoring degraded" in notices[0]
    admin(stack.emulator_server, "faults", {"errorRate": 0.0})
    stack.clock.advance(60)
    stack.tick()
    stack.clock.advance(60)
    stack.tick()
    notices = [m.text for m in stack.bot_messages(ALERTS)[before:]]
    assert len(notices) == 2 and "Monitoring restored" in notices[1]


def preempted_root(stack: Stack) -> tuple[str, Message]:
    name = next(
        n for n in healthy(stack) if stack.emulator.get_node(n)["acceleratorType"].endswith("-8")
    )
    stack.emulator.inject(name, {"state": "PREEMPTED", "health": ""})
    stack.clock.advance(60)
    stack.tick()
    return name, roots(stack)[-1]


def test_acknowledge_and_mute(watched: Stack) -> None:
    stack = watched
    name, root = preempted_root(stack)
    viewer_try = stack.click("U0VIEW", root, ActionId.ACK)
    assert "*operator* role" in viewer_try.text
    answer = stack.click(OPERATOR, root, ActionId.ACK)
    assert "Acknowledged" in answer.text
    stack.drain()
    assert f"Acknowledged by <@{OPERATOR}>" in str(root.blocks)
    stack.click(OPERATOR, root, ActionId.MUTE)
    stack.drain()
    assert "Muted until" in str(root.blocks)
    stack.emulator.inject(name, {"state": "TERMINATED"})
    stack.clock.advance(60)
    stack.tick()
    assert thread(stack, root) == []  # muted: nothing posted
    # ...but the root tells the truth: how the node is now, and resolved when it recovers.
    assert "Now:* TERMINATED" in str(root.blocks)
    stack.emulator.inject(name, {"state": "READY", "health": "HEALTHY"})
    stack.clock.advance(60)
    stack.tick()
    assert thread(stack, root) == []
    assert "Resolved after" in root.text and "Was: state PREEMPTED" in str(root.blocks)
    assert "Now:* READY, HEALTHY" in str(root.blocks)
    assert not any(b["type"] == "actions" for b in root.blocks)  # no live buttons


def test_recreate_a_preempted_node_through_approval(watched: Stack) -> None:
    stack = watched
    name, root = preempted_root(stack)
    spec = stack.emulator.get_node(name)
    queued = stack.click(OPERATOR, root, ActionId.RECREATE)
    assert "needs an approver" in queued.text
    request = stack.ws.wait_for(
        lambda: [m for m in stack.bot_messages(APPROVALS) if not m.thread_ts]
    )[-1]
    assert "Recreate" in str(request.blocks)
    stack.click(APPROVER, request, ActionId.APPROVE)
    assert stack.emulator.get_node(name)["state"] == "DELETING"
    eventually(stack.bot.store.open_operations)
    for _ in range(4):
        stack.clock.advance(11)
        stack.bot.jobs.run("track_operations")
        stack.tick()
    node = stack.emulator.get_node(name)
    assert node["state"] == "READY"
    assert (node["acceleratorType"], node["tensorflowVersion"], node["labels"]) == (
        spec["acceleratorType"],
        spec["tensorflowVersion"],
        spec["labels"],
    )
    texts = [m.text for m in stack.bot_messages(APPROVALS) if m.thread_ts == request.ts]
    assert any("old node is deleted" in t for t in texts)
    assert any("Create of" in t and "finished: node is READY" in t for t in texts)
    creates = admin(stack.emulator_server, "stats")["requests"]["nodes.create"]
    assert creates == 1
    # The preemption incident ends when the node is back.
    assert "Resolved" in root.text


def test_a_zone_outage_across_projects_is_one_digest(tmp_path: Path, clock: FakeClock) -> None:
    from tpu_emulator.server import serve

    emulator = Emulator(clock=clock, op_seconds=10, fleet=400, projects=2, clean=True)
    server = serve(emulator)
    config: dict[str, Any] = {
        "projects": [{"id": "ml-prod"}, {"id": "ml-research"}],
        "channels": {"alerts": ALERTS, "approvals": APPROVALS},
        "watch": {"storm_threshold": 5},
    }
    stack = start_stack(tmp_path, emulator, server, clock, config=config)
    try:
        stack.tick()
        zone = "us-central1-b"
        victims = healthy(stack, "ml-prod", zone)[:3] + healthy(stack, "ml-research", zone)[:3]
        assert len(victims) == 6
        before = len(roots(stack))
        admin(server, "inject", {"names": victims, "state": "PREEMPTED", "health": ""})
        stack.clock.advance(60)
        stack.tick()
        new = roots(stack)[before:]
        assert len(new) == 1 and "6 nodes in trouble in us-central1-b" in new[0].text
        assert "ml-prod, ml-research" in str(new[0].blocks)
    finally:
        stack.close()


def test_a_flapping_node_gets_one_note_then_quiet_until_stable(watched: Stack) -> None:
    stack = watched
    name = healthy(stack)[0]
    node_id = name.rsplit("/", 1)[1]
    for _ in range(3):  # three real incidents, opened and resolved
        stack.emulator.inject(name, {"health": "TIMEOUT"})
        stack.clock.advance(60)
        stack.tick()
        stack.emulator.inject(name, {"health": "HEALTHY"})
        stack.clock.advance(60)
        stack.tick()
    before = len(stack.bot_messages(ALERTS))
    for _ in range(4):  # it keeps flapping
        stack.emulator.inject(name, {"health": "TIMEOUT"})
        stack.clock.advance(60)
        stack.tick()
        stack.emulator.inject(name, {"health": "HEALTHY"})
        stack.clock.advance(60)
        stack.tick()
    new = [m for m in stack.bot_messages(ALERTS)[before:] if node_id in m.text]
    assert len(new) == 1 and "Flapping" in str(new[0].blocks)
    stack.clock.advance(31 * 60)  # stable for the flap window
    stack.tick()
    replies = thread(stack, new[0])
    assert len(replies) == 1 and "stable again" in replies[0].text
