"""The production HTTP server as real `tpu-bot serve` processes: half-open connections, an oversized
body, and SIGTERM during a slow command with two replicas on PostgreSQL."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.processes import serve_env, start_serve, status
from devstack.replicas import start_replicas
from devstack.stack import ALERTS, APPROVALS, VIEWER, people
from devstack.waiting import eventually
from localslack import BOT_USER, LocalSlack
from tpu_emulator import Emulator, EmulatorApp
from tpu_emulator.http import RunningServer, serve_in_thread

CONFIG: dict[str, Any] = {
    # The Cloud TPU API only: the latency faults below would slow Compute's listing too.
    "projects": [{"id": "ml-prod", "sources": ["tpu"]}],
    "channels": {"alerts": ALERTS, "approvals": APPROVALS},
}


class Recording:
    """The emulator's WSGI app, noting each request's path as it starts (before any latency)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.started: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.started.append(str(environ.get("PATH_INFO", "")))
        return self.app(environ, start_response)


@dataclass
class World:
    emulator: Emulator
    recording: Recording
    server: RunningServer
    slack: LocalSlack


@pytest.fixture
def world() -> Iterator[World]:
    emulator = Emulator(fleet=12, projects=1, op_seconds=1, clean=True)
    recording = Recording(EmulatorApp(emulator))
    server = serve_in_thread(recording, "127.0.0.1", 0, "emulator")
    slack = LocalSlack().start()
    people(slack)
    yield World(emulator, recording, server, slack)
    slack.close()
    server.close()


def start_bot(tmp_path: Path, world: World, **extra: str) -> tuple[subprocess.Popen[str], str]:
    """A `tpu-bot serve` on SQLite with a 2 s idle timeout, up; (process, base URL)."""
    env = serve_env(
        tmp_path,
        world.slack.api_url,
        world.server.url,
        CONFIG,
        **{"TPUBOT_HTTP_IDLE_TIMEOUT_SECONDS": "2", **extra},
    )
    served = start_serve(env, log_level="WARNING")
    world.slack.bot_url = served.url + "/slack/events"
    return served.process, served.url


@pytest.fixture
def bot_process(tmp_path: Path, world: World) -> Iterator[str]:
    """One `tpu-bot serve`; yields its base URL; it must stop cleanly on SIGTERM."""
    process, base = start_bot(tmp_path, world)
    try:
        yield base
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr


def answered(slack: LocalSlack, user: str, before: int) -> list[Any]:
    fresh = slack.workspace.snapshot()[before:]
    return [m for m in fresh if m.user == BOT_USER and m.ephemeral_for == user]


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True  # reset: closed as well


def test_half_open_connections_neither_block_acks_nor_linger(
    bot_process: str, world: World
) -> None:
    host, port = bot_process.removeprefix("http://").split(":")
    idle = []
    try:
        for i in range(300):
            sock = socket.create_connection((host, int(port)), timeout=5)
            partial = b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n" if i % 2 else b"POST /sla"
            sock.sendall(partial)
            idle.append(sock)
        before = len(world.slack.workspace.snapshot())
        delivery = world.slack.slash(VIEWER, "list project=ml-prod")
        assert delivery.status == 200 and delivery.seconds < 3.0, delivery
        eventually(lambda: answered(world.slack, VIEWER, before), 30, "the answer")
        for sock in idle:
            sock.setblocking(False)
        eventually(lambda: all(closed_by_peer(s) for s in idle), 30, "idle connections closed")
    finally:
        for sock in idle:
            sock.close()
    assert status(bot_process + "/healthz") == 200


def test_an_oversized_body_gets_413_unread_and_the_bot_still_answers(
    bot_process: str, world: World
) -> None:
    host, port = bot_process.removeprefix("http://").split(":")
    size = 20 * 1024 * 1024
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(size).encode() + b"\r\n\r\n" + b"a" * 65536
        )
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 413"), head[:100]
    before = len(world.slack.workspace.snapshot())
    assert world.slack.slash(VIEWER, "list project=ml-prod").status == 200
    eventually(lambda: answered(world.slack, VIEWER, before), 30, "the answer")


@pytest.mark.postgres
def test_sigterm_finishes_a_slow_command_and_hands_the_lease_over(
    tmp_path: Path, pg_url: str, world: World
) -> None:
    # A lease of 60 s: without a release at shutdown, the standby would wait 40 s or more.
    config = {**CONFIG, "watch": {"poll_seconds": 5, "operations_seconds": 2, "lease_seconds": 60}}
    replicas = start_replicas(2, tmp_path, world.slack, world.server.url, pg_url, config)
    try:
        leader = eventually(lambda: next((r for r in replicas if r.leader), None), 30, "a leader")
        standby = next(r for r in replicas if r is not leader)
        node = world.emulator.node_names("ml-prod")[0]
        node_id = node.rsplit("/", 1)[1]
        world.emulator.set_faults({"latencyMs": 4000})
        world.slack.bot_url = leader.url + "/slack/events"
        before = len(world.slack.workspace.snapshot())
        delivery = world.slack.slash(VIEWER, f"get {node}")
        assert delivery.status == 200 and delivery.seconds < 3.0, delivery
        eventually(lambda: any(p.endswith(node) for p in world.recording.started), 10, "get")
        sent = time.monotonic()
        leader.process.send_signal(signal.SIGTERM)
        answer = eventually(lambda: answered(world.slack, VIEWER, before), 30, "the answer")
        assert node_id in json.dumps(answer[0].blocks)
        eventually(lambda: standby.leader, 20, "the standby leads")
        took_over = time.monotonic() - sent
        assert leader.process.wait(timeout=30) == 0
        assert took_over < 20
    finally:
        world.emulator.set_faults({"latencyMs": 0})
        for replica in replicas:
            replica.stop()


def test_sigterm_turns_readiness_503_and_keeps_serving_for_the_delay(
    tmp_path: Path, world: World
) -> None:
    # The delay leaves room for a loaded machine: one readiness probe may take seconds to answer.
    process, base = start_bot(tmp_path, world, TPUBOT_SHUTDOWN_DELAY_SECONDS="15")
    try:
        assert status(base + "/readyz") == 200
        process.send_signal(signal.SIGTERM)
        try:
            eventually(lambda: status(base + "/readyz") == 503, 8, "readiness off")
        except TimeoutError:
            process.kill()
            raise AssertionError(process.communicate(timeout=10)[1][-4000:]) from None
        assert status(base + "/healthz") == 200
        assert world.slack.slash(VIEWER, "help").status == 200  # still served meanwhile
        assert process.wait(timeout=30) == 0
        assert status(base + "/healthz") == 0  # no longer listening
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
