"""The bounded work queue of a real `tpu-bot serve`, whose work runs in its work process: a full
queue answers busy, SIGTERM still finishes what was queued, and a work process that dies has its
users told and is replaced."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.replicas import Replica, start_replicas
from devstack.stack import ALERTS, APPROVALS, APPROVER, OPERATOR, VIEWER, people
from devstack.waiting import eventually
from localslack import BOT_USER, LocalSlack, Message
from tpu_emulator import Emulator, EmulatorApp
from tpu_emulator.http import RunningServer, serve_in_thread

LIST = "list project=ml-prod"
CONFIG: dict[str, Any] = {
    "projects": [{"id": "ml-prod"}],
    "channels": {"alerts": ALERTS, "approvals": APPROVALS},
    "limits": {"workers": 1, "queue_size": 1},
}


class Gate:
    """The emulator's latency sleep, held until released; counts the calls it holds."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.hits = 0

    def __call__(self, seconds: float) -> None:
        self.hits += 1
        self.released.wait(seconds)


@dataclass
class World:
    emulator: Emulator
    gate: Gate
    server: RunningServer
    slack: LocalSlack
    bot: Replica

    def answers_to(self, user: str) -> list[Message]:
        return [
            m
            for m in self.slack.workspace.snapshot()
            if m.user == BOT_USER and m.ephemeral_for == user
        ]

    def ack(self, user: str, text: str = LIST) -> str:
        delivery = self.slack.slash(user, text)
        assert delivery.status == 200, delivery
        body = delivery.json
        return str(body.get("text", "")) if isinstance(body, dict) else delivery.body

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.bot.url + "/healthz", timeout=5) as response:
            return dict(json.loads(response.read()))

    def settled(self) -> None:
        """The watcher's first tick done and the work process up (it answered `help`)."""
        eventually(lambda: self.health().get("last_poll"), 60, "the first tick")
        assert self.ack(VIEWER, "help") == ""
        eventually(lambda: self.answers_to(VIEWER), 60, "help, from the work process")

    def hold(self) -> int:
        """From now on TPU calls hang until `release`; the calls held so far."""
        self.gate.released.clear()
        self.emulator.set_faults({"latencyMs": 60_000})
        return self.gate.hits

    def release(self) -> None:
        self.emulator.set_faults({"latencyMs": 0})
        self.gate.released.set()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    emulator = Emulator(fleet=12, projects=1, op_seconds=1, clean=True)
    gate = Gate()
    server = serve_in_thread(EmulatorApp(emulator, sleep=gate), "127.0.0.1", 0, "emulator")
    slack = LocalSlack().start()
    people(slack)
    (bot,) = start_replicas(
        1, tmp_path, slack, server.url, f"sqlite:///{tmp_path / 'bot.db'}", CONFIG
    )
    slack.bot_url = bot.url + "/slack/events"
    world = World(emulator, gate, server, slack, bot)
    try:
        yield world
    finally:
        world.release()
        bot.stop()
        slack.close()
        server.close()


def test_a_full_queue_answers_busy_and_sigterm_finishes_what_was_queued(world: World) -> None:
    world.settled()
    # The work runs in a child process (spawned beside start-up, so asked once it has answered).
    assert world.health().get("work_process")
    held = world.hold()
    assert world.ack(OPERATOR) == ""  # the one worker takes it; its listing hangs
    eventually(lambda: world.gate.hits > held, 30, "the listing under way")
    assert world.ack(APPROVER) == ""  # the one place in the queue
    busy = world.ack(VIEWER)
    assert re.search(r"busy.*Try again in \d+ (s|min)\.", busy), busy
    assert world.bot.metric("tpubot_refused_requests_total", 'reason="busy"') == 1
    # SIGTERM with one request in the work process and one queued: both are answered.
    world.bot.process.send_signal(signal.SIGTERM)
    world.release()
    eventually(lambda: world.answers_to(OPERATOR) and world.answers_to(APPROVER), 60, "answers")
    assert world.bot.process.wait(timeout=60) == 0
    assert len(world.answers_to(VIEWER)) == 1  # help; not the busy one


def test_a_work_process_that_dies_is_told_and_replaced(world: World) -> None:
    world.settled()
    first = int(world.health()["work_process"])
    held = world.hold()
    assert world.ack(APPROVER) == ""
    eventually(lambda: world.gate.hits > held, 30, "the listing under way")
    os.kill(first, signal.SIGKILL)
    told = eventually(lambda: world.answers_to(APPROVER), 30, "the user told")
    assert "may or may not have run" in told[0].text
    world.release()
    assert world.ack(OPERATOR) == ""  # a new work process takes it
    answer = eventually(lambda: world.answers_to(OPERATOR), 60, "the answer")
    assert answer[0].blocks  # the listing itself
    second = int(world.health()["work_process"])
    assert second != first
    assert world.bot.metric("tpubot_work_process_starts_total") == 2
