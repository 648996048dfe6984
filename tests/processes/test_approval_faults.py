"""Approvals against faults, over real `tpu-bot serve` processes: a Slack outage during the click's
follow-up, the TPU API down at approval time, SIGKILL between approve and execute (one replica on
SQLite; the leader of two on PostgreSQL). Each ends with the stop run exactly once (emulator
stats) and the request redrawn without buttons, its thread telling the outcome."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.slack.actions import ActionId
from devstack.admin import admin
from devstack.replicas import Replica, outbox_recorded, start_replicas
from devstack.stack import ALERTS, APPROVALS, APPROVER, GENERAL, OPERATOR, people
from devstack.waiting import eventually
from localslack import BOT_USER, LocalSlack, Message
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer, serve_in_thread
from tpu_emulator.server import EmulatorApp

CONFIG: dict[str, Any] = {
    # A TPU Node project: the stops are counted as v1alpha1 calls (`nodes.stop`).
    "projects": [{"id": "ml-prod", "api": "v1alpha1", "sources": ["tpu"]}],
    "channels": {"alerts": ALERTS, "approvals": APPROVALS},
    "roles": {"operator": ["S0PLATFORM"], "approver": ["S0ONCALL"]},
    "approvals": {"retry_minutes": 2, "attempt_timeout_seconds": 2},
    "watch": {"poll_seconds": 60, "operations_seconds": 30, "lease_seconds": 3},
    "gcp": {"request_timeout_seconds": 20, "retries": 1},
}


class Hang:
    """The emulator's `latencyMs` sleep, made to last until released: a call hangs while the
    test kills the process that made it (no wall-clock sleep decides anything)."""

    def __init__(self) -> None:
        self.released = threading.Event()

    def __call__(self, seconds: float) -> None:
        self.released.wait(seconds)


@dataclass
class World:
    emulator: Emulator
    server: RunningServer
    hang: Hang
    slack: LocalSlack
    tmp_path: Path
    node: str = ""

    def faults(self, **faults: Any) -> None:
        admin(self.server, "faults", faults)

    def stops(self) -> int:
        return int(admin(self.server, "stats")["requests"].get("nodes.stop", 0))

    def serve(
        self, count: int, database_url: str, name: str, first: int = 0, **approvals: Any
    ) -> list[Replica]:
        """`count` serve processes on `database_url`, with `approvals` settings changed; named
        replica-<first>...: the same name again is a restart of that replica."""
        config = {**CONFIG, "approvals": {**CONFIG["approvals"], **approvals}}
        workdir = self.tmp_path / name
        workdir.mkdir()
        return start_replicas(
            count, workdir, self.slack, self.server.url, database_url, config, first
        )

    def bot_messages(self, channel: str) -> list[Message]:
        return [m for m in self.slack.workspace.snapshot(channel) if m.user == BOT_USER]

    def request_stop(self, replica: Replica) -> Message:
        """The operator types `/tpu stop` at `replica`: the request message with its buttons."""
        self.slack.bot_url = replica.url + "/slack/events"
        assert self.slack.slash(OPERATOR, f"stop {self.node} nightly").status == 200
        roots = eventually(
            lambda: [m for m in self.bot_messages(APPROVALS) if not m.thread_ts and buttons(m)],
            30,
            "the request message",
        )
        assert len(roots) == 1
        return roots[0]

    def approve(self, replica: Replica, request: Message) -> None:
        self.slack.bot_url = replica.url + "/slack/events"
        assert self.slack.click(APPROVER, request, ActionId.APPROVE).status == 200

    def thread(self, request: Message) -> list[str]:
        return [m.text for m in self.bot_messages(APPROVALS) if m.thread_ts == request.ts]

    def told_once(self, request: Message) -> None:
        """Stopped exactly once, the request redrawn without buttons, the thread says so."""
        eventually(lambda: self.stops() >= 1, 60, "the stop")
        eventually(lambda: any("started" in t for t in self.thread(request)), 60, "the thread")
        eventually(lambda: not buttons(request) and "started" in str(request.blocks), 30, "redraw")
        eventually(self.requester_told, 30, "the requester told")
        assert self.stops() == 1
        assert len([t for t in self.thread(request) if "started" in t]) == 1

    def requester_told(self) -> bool:
        notes = self.slack.workspace.snapshot(GENERAL)
        return any(m.ephemeral_for == OPERATOR and "approved your request" in m.text for m in notes)


def buttons(message: Message) -> bool:
    return any(b["type"] == "actions" for b in message.blocks)


def approval_row(database_url: str) -> dict[str, Any] | None:
    """The only approval in the database, as a row (None before it exists)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT status, attempt_at, attempts FROM approvals")
            ).first()
    finally:
        engine.dispose()
    return dict(row._mapping) if row else None


def attempt_older_than(database_url: str, seconds: float) -> bool:
    row = approval_row(database_url)
    if not row or row["status"] != "executing":
        return False
    at = row["attempt_at"]
    at = datetime.fromisoformat(at) if isinstance(at, str) else at
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return bool(datetime.now(UTC) - at > timedelta(seconds=seconds))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    emulator = Emulator(fleet=8, projects=1, op_seconds=1, clean=True)
    hang = Hang()
    server = serve_in_thread(EmulatorApp(emulator, sleep=hang), "127.0.0.1", 0, "tpu-emulator")
    slack = LocalSlack().start()
    people(slack)
    found = World(emulator, server, hang, slack, tmp_path)
    found.node = ready_single_host(emulator)
    yield found
    hang.released.set()
    slack.close()
    server.close()


def ready_single_host(emulator: Emulator) -> str:
    for name in emulator.node_names("ml-prod"):
        node = emulator.get_node(name)
        if node["state"] == "READY" and node["acceleratorType"].endswith("-8"):
            return str(name)
    raise AssertionError("no READY single-host node in the fleet")


def stop_all(replicas: list[Replica]) -> None:
    for replica in replicas:
        replica.stop()


def test_slack_down_during_the_click_follow_up(world: World) -> None:
    replicas = world.serve(1, f"sqlite:///{world.tmp_path / 'bot.db'}", "a")
    try:
        request = world.request_stop(replicas[0])
        world.slack.workspace.fail(3, status=503, methods=("chat.update", "chat.postMessage"))
        world.approve(replicas[0], request)
        eventually(lambda: world.stops() == 1, 30, "the stop, with Slack down")
        world.told_once(request)
        failed = [c for c in world.slack.workspace.calls if c.error == "internal_error"]
        assert len(failed) == 3  # Slack did fail the follow-up, and it was sent again
    finally:
        stop_all(replicas)


def test_tpu_api_down_at_approval_then_back(world: World) -> None:
    database_url = f"sqlite:///{world.tmp_path / 'bot.db'}"
    replicas = world.serve(1, database_url, "a")
    try:
        request = world.request_stop(replicas[0])
        world.faults(errorRate=1.0, errorCode=503, methods=["nodes.get"])
        world.approve(replicas[0], request)
        eventually(
            lambda: (approval_row(database_url) or {}).get("status") == "approved",
            30,
            "approved, waiting to retry",
        )
        eventually(lambda: any("keeps trying" in t for t in world.thread(request)), 30, "told")
        assert world.stops() == 0
        world.faults(errorRate=0.0, methods=[])
        world.told_once(request)
        assert (approval_row(database_url) or {}).get("status") == "executed"
    finally:
        stop_all(replicas)


def kill_between_approve_and_execute(
    world: World, leader: Replica, database_url: str, request: Message
) -> None:
    """Hang the re-check, approve on `leader`, SIGKILL it while the attempt is executing (and
    older than the attempt timeout, so the next leader's first resume takes it), lift the fault."""
    world.faults(latencyMs=60_000)
    world.approve(leader, request)
    eventually(lambda: attempt_older_than(database_url, 2), 30, "a stale executing attempt")
    eventually(lambda: outbox_recorded(database_url), 30, "what was sent, recorded")
    leader.kill()
    world.faults(latencyMs=0)
    world.hang.released.set()
    assert world.stops() == 0


def test_sigkill_between_approve_and_execute_one_replica(world: World) -> None:
    database_url = f"sqlite:///{world.tmp_path / 'bot.db'}"
    (first,) = world.serve(1, database_url, "a", attempt_timeout_seconds=300)
    second: list[Replica] = []
    try:
        request = world.request_stop(first)
        kill_between_approve_and_execute(world, first, database_url, request)
        second = world.serve(1, database_url, "b", attempt_timeout_seconds=2)
        world.told_once(request)
        assert (approval_row(database_url) or {}).get("attempts") == 2
    finally:
        stop_all([first, *second])


def test_sigkill_of_the_leader_between_approve_and_execute(world: World, pg_url: str) -> None:
    replicas = world.serve(2, pg_url, "a")
    try:
        leader = eventually(lambda: next((r for r in replicas if r.leader), None), 30, "leader")
        request = world.request_stop(leader)
        kill_between_approve_and_execute(world, leader, pg_url, request)
        (survivor,) = [r for r in replicas if r is not leader]
        world.told_once(request)
        assert survivor.leader
        final = approval_row(pg_url) or {}
        assert final.get("status") == "executed" and final.get("attempts") == 2
    finally:
        stop_all(replicas)


# Crash takeover by liveness: the attempt timeout stays at its default (300 s), so an attempt
# taken over within the 60 s these tests wait can only have been taken over because its owner
# was known dead.


def test_a_restarted_replica_takes_over_its_earlier_boots_attempt_at_once(world: World) -> None:
    database_url = f"sqlite:///{world.tmp_path / 'bot.db'}"
    (first,) = world.serve(1, database_url, "a")
    again: list[Replica] = []
    try:
        request = world.request_stop(first)
        kill_between_approve_and_execute(world, first, database_url, request)
        again = world.serve(1, database_url, "b")  # the same replica name, a new boot
        eventually(lambda: world.stops() >= 1, 60, "the stop, well before the 300 s timeout")
        world.told_once(request)
        assert (approval_row(database_url) or {}).get("attempts") == 2
    finally:
        stop_all([first, *again])


def test_a_work_process_killed_mid_attempt_is_taken_over_while_its_bot_lives(
    world: World,
) -> None:
    """The approval runs in the work process, a replica of its own (`<name>/work`) with its own
    heartbeat: killed alone, its attempt is taken over by the bot's leader once that heartbeat
    lapses (or a new work process has beaten since), not after the 300 s timeout."""
    database_url = f"sqlite:///{world.tmp_path / 'bot.db'}"
    (bot,) = world.serve(1, database_url, "a")
    try:
        request = world.request_stop(bot)
        worker = bot.work_pid()
        assert worker is not None and worker != bot.process.pid
        world.faults(latencyMs=60_000)
        world.approve(bot, request)
        eventually(lambda: attempt_older_than(database_url, 2), 30, "a stale executing attempt")
        os.kill(worker, signal.SIGKILL)
        world.faults(latencyMs=0)
        world.hang.released.set()
        assert world.stops() == 0 and bot.process.poll() is None  # the bot itself lives on
        eventually(lambda: world.stops() >= 1, 60, "the stop, well before the 300 s timeout")
        world.told_once(request)
        assert (approval_row(database_url) or {}).get("attempts") == 2
    finally:
        stop_all([bot])


def test_a_standby_killed_mid_attempt_is_taken_over_when_its_heartbeat_lapses(
    world: World, pg_url: str
) -> None:
    replicas = world.serve(2, pg_url, "a")
    try:
        leader = eventually(lambda: next((r for r in replicas if r.leader), None), 30, "leader")
        (standby,) = [r for r in replicas if r is not leader]
        request = world.request_stop(standby)
        kill_between_approve_and_execute(world, standby, pg_url, request)
        eventually(lambda: world.stops() >= 1, 60, "the stop, well before the 300 s timeout")
        world.told_once(request)
        assert leader.leader
        final = approval_row(pg_url) or {}
        assert final.get("status") == "executed" and final.get("attempts") == 2
    finally:
        stop_all(replicas)
