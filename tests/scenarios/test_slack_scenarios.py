"""Scenarios over HTTP: signed slash commands and clicks into the bot, answers on localslack."""

from __future__ import annotations

from bot.slack.actions import ActionId
from devstack.stack import (
    APPROVALS,
    APPROVER,
    GENERAL,
    OPERATOR,
    STRANGER,
    VIEWER,
    Stack,
)


def test_list_renders_node_cards(stack: Stack) -> None:
    answer = stack.command(VIEWER, "list project=ml-prod")
    assert answer.ephemeral_for == VIEWER
    assert answer.blocks[0]["type"] == "header"
    sections = [b for b in answer.blocks if b["type"] == "section"]
    assert sections and "ml-prod" in sections[0]["text"]["text"]
    assert any(b["type"] == "actions" for b in answer.blocks)


def test_help_and_usage(stack: Stack) -> None:
    assert "/tpu list" in stack.command(VIEWER, "help").blocks[1]["text"]["text"]
    wrong = stack.command(VIEWER, "reimage")
    assert "Usage: `/tpu reimage NODE VERSION`" in wrong.text


def test_stranger_is_refused(stack: Stack) -> None:
    answer = stack.command(STRANGER, "list")
    assert "You need the *viewer* role" in answer.text


def test_viewer_cannot_stop(stack: Stack) -> None:
    node = stack.emulator.node_names("ml-prod")[0].rsplit("/", 1)[1]
    answer = stack.command(VIEWER, f"stop {node}")
    assert "*operator* role" in answer.text and "you have *viewer*" in answer.text
    assert not stack.bot_messages(APPROVALS)


def test_stop_goes_through_approval(stack: Stack) -> None:
    ready = next(
        n
        for n in stack.emulator.node_names("ml-prod")
        if stack.emulator.get_node(n)["state"] == "READY"
        and stack.emulator.get_node(n)["acceleratorType"].endswith("-8")
    )
    node_id = ready.rsplit("/", 1)[1]
    queued = stack.command(OPERATOR, f"stop {node_id} end of experiment")
    assert "needs an approver" in queued.text
    request = stack.ws.wait_for(lambda: stack.bot_messages(APPROVALS))[0]
    assert "end of experiment" in request.blocks[1]["text"]["text"]
    stack.click(APPROVER, request, ActionId.APPROVE)
    assert stack.ws.wait_for(lambda: stack.emulator.get_node(ready)["state"] == "STOPPING")
    replies = stack.ws.wait_for(
        lambda: [m for m in stack.bot_messages(APPROVALS) if m.thread_ts == request.ts]
    )
    assert "started" in replies[0].text
    assert GENERAL


def test_group_membership_is_looked_up_once_and_cached(stack: Stack) -> None:
    for _ in range(3):
        stack.command(OPERATOR, "audit 1")
    lookups = stack.ws.calls_to("usergroups.users.list")
    # One lookup per configured group, not one per command.
    assert sorted(c.args["usergroup"] for c in lookups) == ["S0EVERYONE", "S0ONCALL", "S0PLATFORM"]


def test_every_command_is_audited(stack: Stack) -> None:
    stack.command(VIEWER, "list project=ml-prod")
    stack.command(VIEWER, "help")
    entries = stack.bot.store.latest_audit(5)
    assert [(e.user, e.target, e.outcome) for e in entries[:2]] == [
        (VIEWER, "help", "ok"),
        (VIEWER, "list project=ml-prod", "ok"),
    ]
