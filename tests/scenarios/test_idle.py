"""Is anyone using it (issue 21): a TPU idle past the threshold raises one idle notice with its
cost, Keep snoozes it (audited), Stop goes through approval and settles it; a TPU whose usage
cannot be read is never called idle; /tpu usage and /tpu get show the duty cycle; the Home tab
is published for whoever opens it. The real bot, the emulator (Cloud TPU API + Cloud Monitoring)
and localslack over HTTP; time is the stack's FakeClock."""

from __future__ import annotations

from datetime import timedelta

from bot.slack.actions import ActionId
from devstack.admin import admin
from devstack.stack import ALERTS, APPROVALS, APPROVER, OPERATOR, VIEWER, Stack
from devstack.waiting import eventually
from localslack import Message

DAY_AGO = timedelta(days=1)


def single_hosts(stack: Stack) -> list[str]:
    return [
        n
        for n in stack.emulator.node_names("ml-prod")
        if stack.emulator.get_node(n)["state"] == "READY"
        and stack.emulator.get_node(n)["acceleratorType"].endswith("-8")
    ]


def busy_but(stack: Stack, idle: str) -> None:
    """Every READY TPU busy for the last day, but `idle` (duty cycle 0)."""
    since = (stack.clock() - DAY_AGO).isoformat().replace("+00:00", "Z")
    for project in ("ml-prod", "ml-research"):
        for name in stack.emulator.node_names(project):
            duty = 0 if name == idle else 90
            stack.emulator.inject_utilization(name, {"dutyCycle": duty, "since": since})


def notices(stack: Stack) -> list[Message]:
    return [
        m for m in stack.bot_messages(ALERTS) if not m.thread_ts and "idle tpu" in m.text.lower()
    ]


def sweep(stack: Stack) -> None:
    stack.bot.jobs.run("idle_sweep")
    stack.drain()


def test_an_idle_tpu_is_named_once_with_its_cost_and_keep_snoozes_it(stack: Stack) -> None:
    target = single_hosts(stack)[0]
    node_id = target.rsplit("/", 1)[1]
    busy_but(stack, target)
    sweep(stack)
    [notice] = notices(stack)
    assert node_id in notice.text and "1 idle TPU" in notice.text
    assert "a day" in str(notice.blocks) and "since it was created" in str(notice.blocks)
    sweep(stack)  # still idle: not named again
    assert len(notices(stack)) == 1
    stack.click(OPERATOR, notice, ActionId.KEEP)
    thread = [m for m in stack.bot_messages(ALERTS) if m.thread_ts == notice.ts]
    assert any("no longer idle" in m.text and "kept until" in m.text for m in thread)
    assert "none left idle" in notice.text.lower()  # redrawn
    kept = [e for e in stack.bot.store.latest_audit(10) if e.action == "keep"]
    assert kept and kept[0].user == OPERATOR and kept[0].outcome == "kept"
    sweep(stack)
    assert len(notices(stack)) == 1  # kept: not named again


def test_stop_through_approval_settles_the_notice(stack: Stack) -> None:
    target = single_hosts(stack)[0]
    busy_but(stack, target)
    sweep(stack)
    [notice] = notices(stack)
    stack.click(OPERATOR, notice, ActionId.STOP)
    [request] = [m for m in stack.bot_messages(APPROVALS) if not m.thread_ts]
    stack.click(APPROVER, request, ActionId.APPROVE)
    stack.clock.advance(30)  # the stop's operation ends on the emulator's clock
    stack.bot.jobs.run("track_operations")
    assert stack.emulator.get_node(target)["state"] == "STOPPED"
    sweep(stack)
    thread = [m for m in stack.bot_messages(ALERTS) if m.thread_ts == notice.ts]
    assert any("no longer idle" in m.text and "STOPPED" in m.text for m in thread)


def test_usage_that_cannot_be_read_is_never_idle(stack: Stack) -> None:
    target = single_hosts(stack)[0]
    busy_but(stack, target)
    admin(stack.emulator_server, "faults", {"errorRate": 1.0, "errorCode": 503})
    try:
        sweep(stack)
        assert notices(stack) == []
        table = stack.command(VIEWER, "usage project=ml-prod")
        assert "Not read" in str(table.blocks) or "unknown" in str(table.blocks).lower()
    finally:
        admin(stack.emulator_server, "faults", {"errorRate": 0.0})
    sweep(stack)
    assert len(notices(stack)) == 1  # once it can be read, it is


def test_usage_and_get_show_the_duty_cycle(stack: Stack) -> None:
    target = single_hosts(stack)[0]
    node_id = target.rsplit("/", 1)[1]
    busy_but(stack, target)
    table = stack.command(VIEWER, "usage project=ml-prod idle")
    cells = str(table.blocks)
    assert any(b["type"] == "table" for b in table.blocks) and node_id in cells
    short = "/".join(target.split("/")[i] for i in (1, 3, 5))
    card = stack.command(VIEWER, f"get {short}")
    assert "Duty cycle, 1 h" in str(card.blocks)
    assert any(b["type"] == "data_visualization" for b in card.blocks)


def test_opening_the_home_tab_publishes_the_fleet_for_that_user(stack: Stack) -> None:
    delivery = stack.slack.open_home(OPERATOR)
    assert delivery.status == 200
    eventually(lambda: stack.bot.watch.outbox.depth() > 0, 10, "the Home view queued")
    stack.drain()
    published = stack.ws.calls_to("views.publish", ok=True)
    assert published and published[-1].args["user_id"] == OPERATOR
    view = published[-1].args["view"]
    assert view["type"] == "home" and "chips" in str(view["blocks"]).lower()
