"""The hostile channel (issue 18): a requester types a command in the alerts channel, leaves it,
and their request is denied. Slack refuses the private note to them (user_not_in_channel); on
the earlier main that one note was retried forever and held up every alert of the channel. Now
it is set aside at once and told in the request's thread, and 20 preemptions that follow are all
posted, in order. The real bot, localslack and the emulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.actions import ActionId
from devstack.clock import FakeClock
from devstack.stack import ALERTS, APPROVALS, APPROVER, OPERATOR, Stack, start_stack
from localslack import BOT_USER
from tpu_emulator import Emulator
from tpu_emulator.server import serve


@pytest.fixture
def big(tmp_path: Path, clock: FakeClock) -> Iterator[Stack]:
    emulator = Emulator(clock=clock, op_seconds=10, fleet=150, projects=3)
    server = serve(emulator)
    stack = start_stack(tmp_path, emulator, server, clock)
    yield stack
    stack.close()


def ready(stack: Stack) -> tuple[str, list[str]]:
    """A READY single-host node to stop, and the other READY nodes of ml-prod."""
    names = [
        n
        for n in stack.emulator.node_names("ml-prod")
        if stack.emulator.get_node(n)["state"] == "READY"
    ]
    target = next(n for n in names if stack.emulator.get_node(n)["acceleratorType"].endswith("-8"))
    victims = [n for n in names if n != target]
    assert len(victims) >= 20, "the fleet has enough READY nodes"
    return target, victims


def test_a_departed_requester_never_silences_the_alerts_channel(big: Stack) -> None:
    stack = big
    target, victims = ready(stack)
    stack.command(OPERATOR, f"stop {target} done for today", channel=ALERTS)
    [request] = [m for m in stack.bot_messages(APPROVALS) if not m.thread_ts]
    stack.ws.leave(OPERATOR, ALERTS)
    stack.click(APPROVER, request, ActionId.DENY)
    stack.tick()  # the watcher's first look: nothing to say yet

    for victim in victims[:20]:  # one preemption a tick: each its own alert, not a storm
        stack.emulator.inject(victim, {"state": "PREEMPTED", "health": ""})
        stack.tick()

    ids = [v.rsplit("/", 1)[1] for v in victims[:20]]
    roots = [m for m in stack.bot_messages(ALERTS) if not m.thread_ts and not m.ephemeral_for]
    about = [next((i for i in ids if i in m.text), None) for m in roots]
    assert [i for i in about if i is not None] == ids, [m.text for m in roots]  # 20, in order
    refused = stack.ws.calls_to("chat.postEphemeral", ok=False)
    assert [c.error for c in refused] == ["user_not_in_channel"]  # tried once, not forever
    told = [m for m in stack.bot_messages(APPROVALS) if m.thread_ts == request.ts]
    mention = [m for m in told if f"<@{OPERATOR}>" in m.text and "denied your request" in m.text]
    assert len(mention) == 1
    assert stack.bot.watch.outbox.depth() == 0
    assert all(m.user == BOT_USER for m in told)
