"""Approvals end to end: approve, deny, expiry, self-approval, roles, races, and changed nodes."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest

from bot.slack.actions import ActionId
from devstack.admin import admin
from devstack.stack import (
    ADMIN,
    ALERTS,
    APPROVALS,
    APPROVER,
    APPROVER2,
    GENERAL,
    OPERATOR,
    VIEWER,
    Stack,
)
from devstack.waiting import eventually
from localslack import Message


def ready_single_host(stack: Stack, project: str = "ml-prod") -> str:
    for name in stack.emulator.node_names(project):
        node = stack.emulator.get_node(name)
        if node["state"] == "READY" and node["acceleratorType"].endswith("-8"):
            return name
    raise AssertionError("no READY single-host node in the seeded fleet")


def stops(stack: Stack) -> int:
    return int(admin(stack.emulator_server, "stats")["requests"].get("nodes.stop", 0))


def request_stop(stack: Stack, name: str, user: str = OPERATOR) -> Message:
    short = "/".join(name.split("/")[i] for i in (1, 3, 5))
    queued = stack.command(user, f"stop {short} nightly shutdown")
    assert "needs an approver" in queued.text, queued.text
    return stack.ws.wait_for(lambda: [m for m in stack.bot_messages(APPROVALS) if not m.thread_ts])[
        -1
    ]


def has_buttons(message: Message) -> bool:
    return any(b["type"] == "actions" for b in message.blocks)


def test_approve_runs_the_action_once_and_tells_everyone(stack: Stack) -> None:
    name = ready_single_host(stack)
    request = request_stop(stack, name)
    original = copy.deepcopy(request)
    assert has_buttons(request) and "nightly shutdown" in request.text + str(request.blocks)
    answer = stack.click(APPROVER, request, ActionId.APPROVE)
    assert "Approved" in answer.text
    assert stack.emulator.get_node(name)["state"] == "STOPPING" and stops(stack) == 1
    stack.ws.wait_for(lambda: "started" in str(request.blocks))
    assert not has_buttons(request) and f"<@{APPROVER}>" in str(request.blocks)
    thread = [m for m in stack.bot_messages(APPROVALS) if m.thread_ts == request.ts]
    assert thread and "started" in thread[0].text
    told = [m for m in stack.bot_messages(GENERAL) if m.ephemeral_for == OPERATOR]
    assert any("approved your request" in m.text for m in told)
    # A replayed click (the old payload, buttons and all) changes nothing.
    again = stack.click(APPROVER2, original, ActionId.APPROVE)
    assert "already executed" in again.text and stops(stack) == 1


def test_deny(stack: Stack) -> None:
    name = ready_single_host(stack)
    request = request_stop(stack, name)
    stack.click(APPROVER, request, ActionId.DENY)
    stack.ws.wait_for(lambda: "Denied" in str(request.blocks))
    assert not has_buttons(request) and stops(stack) == 0
    assert stack.emulator.get_node(name)["state"] == "READY"
    told = [m for m in stack.bot_messages(GENERAL) if m.ephemeral_for == OPERATOR]
    assert any("denied your request" in m.text for m in told)


def test_expiry_removes_the_buttons_and_refuses_late_clicks(stack: Stack) -> None:
    request = request_stop(stack, ready_single_host(stack))
    original = copy.deepcopy(request)
    stack.clock.advance(29 * 60)
    assert stack.bot.jobs.run("expire_approvals") == 0
    stack.clock.advance(60)
    assert stack.bot.jobs.run("expire_approvals") == 1
    stack.settle()
    assert "Expired" in str(request.blocks) and not has_buttons(request)
    late = stack.click(APPROVER, original, ActionId.APPROVE)
    assert "already expired" in late.text and stops(stack) == 0
    told = [m for m in stack.bot_messages(GENERAL) if m.ephemeral_for == OPERATOR]
    assert any("expired" in m.text for m in told)


def test_requester_cannot_approve_their_own_request(stack: Stack) -> None:
    request = request_stop(stack, ready_single_host(stack), user=APPROVER)
    answer = stack.click(APPROVER, request, ActionId.APPROVE)
    assert "cannot decide your own request" in answer.text
    assert has_buttons(request) and stops(stack) == 0


@pytest.mark.parametrize("user", [OPERATOR, VIEWER])
def test_non_approvers_cannot_decide(stack: Stack, user: str) -> None:
    request = request_stop(stack, ready_single_host(stack))
    answer = stack.click(user, request, ActionId.APPROVE)
    assert "*approver* role" in answer.text
    assert has_buttons(request) and stops(stack) == 0
    assert "refused" in [e.outcome for e in stack.bot.store.latest_audit(5)]


def test_two_approvers_at_once_run_it_once(stack: Stack) -> None:
    name = ready_single_host(stack)
    request = request_stop(stack, name)
    before = len(stack.ws.snapshot(include_deleted=True))
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def click(user: str) -> None:
        barrier.wait()
        results.append(stack.slack.click(user, request, ActionId.APPROVE))

    threads = [threading.Thread(target=click, args=(u,)) for u in (APPROVER, ADMIN)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == [200, 200]

    def both_answered() -> list[Message]:
        fresh = stack.ws.snapshot(include_deleted=True)[before:]
        return [m for m in fresh if m.ephemeral_for in (APPROVER, ADMIN)]

    answers = stack.ws.wait_for(lambda: len(both_answered()) == 2 and both_answered())
    texts = sorted(a.text for a in answers)
    assert any("Approved" in t for t in texts) and any("already" in t for t in texts)
    assert stops(stack) == 1
    assert len(stack.bot.store.open_operations()) == 1


def test_node_changed_meanwhile_is_refused(stack: Stack) -> None:
    name = ready_single_host(stack)
    request = request_stop(stack, name)
    stack.emulator.inject(name, {"state": "PREEMPTED", "health": ""})
    answer = stack.click(APPROVER, request, ActionId.APPROVE)
    assert "was READY when requested and is PREEMPTED now" in answer.text
    assert stops(stack) == 0
    stack.ws.wait_for(lambda: "node changed" in str(request.blocks))


def test_create_and_delete_go_through_approval_with_one_request_id(stack: Stack) -> None:
    queued = stack.command(
        OPERATOR, "create fresh-1 project=ml-prod zone=us-central1-b type=v3-8 version=2.12.0"
    )
    assert "needs an approver" in queued.text
    request = stack.ws.wait_for(
        lambda: [m for m in stack.bot_messages(APPROVALS) if not m.thread_ts]
    )[-1]
    stack.click(APPROVER, request, ActionId.APPROVE)
    name = "projects/ml-prod/locations/us-central1-b/nodes/fresh-1"
    assert stack.emulator.get_node(name)["state"] == "CREATING"
    approval = stack.bot.store.latest_audit(1)[0]
    assert approval.outcome == "started"


def test_start_runs_at_once_and_the_operation_thread_ends(stack: Stack) -> None:
    name = ready_single_host(stack)
    stack.emulator.stop_node(name)
    stack.clock.advance(11)
    node_id = name.rsplit("/", 1)[1]
    answer = stack.command(OPERATOR, f"start ml-prod/{name.split('/')[3]}/{node_id}")
    assert "Started" in answer.text and stack.emulator.get_node(name)["state"] == "STARTING"
    # The thread's first message went out through the outbox, in the requester's channel.
    status = next(m for m in stack.bot_messages(GENERAL) if "Start of" in m.text)
    assert stack.bot.jobs.run("track_operations") == 0
    stack.clock.advance(11)
    assert stack.bot.jobs.run("track_operations") == 1
    # Scheduled work goes through the outbox: nothing is posted until it drains.
    assert not [m for m in stack.bot_messages(GENERAL) if m.thread_ts == status.ts]
    sent = stack.bot.jobs.run("drain_outbox")  # the reply and the status's edit: a burst
    stack.clock.advance(1)
    assert sent + stack.bot.jobs.run("drain_outbox") == 2
    replies = [m for m in stack.bot_messages(GENERAL) if m.thread_ts == status.ts]
    assert "finished: node is READY" in replies[-1].text
    assert status.edited and "finished" in status.text
    assert stack.bot.jobs.run("track_operations") == 0


def test_two_approvers_at_once_on_postgres(
    tmp_path: Any, emulator: Any, emulator_server: Any, clock: Any, pg_url: str
) -> None:
    from devstack.stack import start_stack

    pg_stack = start_stack(tmp_path, emulator, emulator_server, clock, database_url=pg_url)
    try:
        test_two_approvers_at_once_run_it_once(pg_stack)
    finally:
        pg_stack.bot.close()
        pg_stack.slack.close()


def test_an_unusually_long_operation_gets_one_warning(stack: Stack) -> None:
    name = ready_single_host(stack)
    stack.emulator.op_seconds = 3600
    request = request_stop(stack, name)
    stack.click(APPROVER, request, ActionId.APPROVE)
    eventually(stack.bot.store.open_operations)
    for _ in range(3):
        stack.clock.advance(15 * 60)
        stack.bot.jobs.run("track_operations")
        stack.drain()
    replies = [m.text for m in stack.bot_messages(APPROVALS) if m.thread_ts == request.ts]
    warnings = [t for t in replies if "still running" in t]
    assert len(warnings) == 1 and "minutes so far" in warnings[0]


def test_a_lost_stop_response_is_adopted_not_failed(stack: Stack) -> None:
    name = ready_single_host(stack)
    request = request_stop(stack, name)
    lost = {"failNext": 1, "errorCode": 503, "afterApply": True, "methods": ["nodes.stop"]}
    admin(stack.emulator_server, "faults", lost)
    answer = stack.click(APPROVER, request, ActionId.APPROVE)
    assert "started" in answer.text, answer.text
    # The client retried the stop whose answer was lost; the API refused the second (the node
    # is stopping): one stop took effect, and the bot adopted its operation.
    assert stops(stack) == 2 and stack.emulator.get_node(name)["state"] == "STOPPING"
    (tracked,) = stack.bot.store.open_operations()
    assert tracked.verb == "stop" and tracked.target == name
    stack.ws.wait_for(lambda: "started" in str(request.blocks))
    assert not has_buttons(request)


def test_an_operation_typed_where_the_bot_is_not_is_told_in_the_alerts_channel(
    stack: Stack,
) -> None:
    """The thread of an operation run at once starts where it was typed; a channel the bot was
    never invited to answers not_in_channel, and the thread moves to the alerts channel, its
    later replies with it."""
    name = ready_single_host(stack)
    stack.emulator.stop_node(name)
    stack.clock.advance(11)
    stack.ws.add_channel("C0PRIVATE", "team-room", member=False)
    short = "/".join(name.split("/")[i] for i in (1, 3, 5))
    answer = stack.command(OPERATOR, f"start {short}", channel="C0PRIVATE")
    assert "Started" in answer.text
    root = next(m for m in stack.bot_messages(ALERTS) if "Start of" in m.text)
    assert not [m for m in stack.bot_messages("C0PRIVATE") if not m.ephemeral_for]
    stack.clock.advance(11)
    assert stack.bot.jobs.run("track_operations") == 1
    stack.settle()
    replies = [m for m in stack.bot_messages(ALERTS) if m.thread_ts == root.ts]
    assert replies and "finished" in replies[-1].text
