"""Readiness means "can serve Slack": a TPU API outage degrades the watcher and is said in Slack,
but no replica leaves service over it. Health reports the watcher, the TPU API and the role."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from devstack.admin import admin
from devstack.clock import FakeClock
from devstack.stack import ALERTS, VIEWER, Stack, start_stack
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_tpu_outage_keeps_readiness_and_says_so(stack: Stack) -> None:
    stack.tick()
    assert get(stack.bot.url + "/healthz")[1]["tpu_api"] == "ok"
    admin(stack.emulator_server, "faults", {"errorRate": 1.0, "errorCode": 503})
    for _ in range(5):  # several poll intervals of outage
        stack.clock.advance(60)
        stack.tick()
        assert get(stack.bot.url + "/readyz") == (200, {"ready": True, "reason": "ok"})
    assert any("Monitoring degraded" in m.text for m in stack.bot_messages(ALERTS))
    status, health = get(stack.bot.url + "/healthz")
    assert status == 200 and health["tpu_api"] == "degraded"
    answer = stack.command(VIEWER, "list project=ml-prod")
    assert "The TPU API is not answering right now" in answer.text
    assert get(stack.bot.url + "/readyz")[0] == 200


def test_health_reports_a_stale_watcher_without_leaving_service(stack: Stack) -> None:
    stack.bot.started_at = stack.clock()
    stack.tick()
    health = get(stack.bot.url + "/healthz")[1]
    assert health["watcher"] == "ok" and health["last_poll"]
    stack.clock.advance(3 * 60 + 1)  # three intervals without a completed poll
    status, health = get(stack.bot.url + "/healthz")
    assert status == 200 and health["watcher"] == "stale"
    assert get(stack.bot.url + "/readyz")[0] == 200
    stack.tick()
    assert get(stack.bot.url + "/healthz")[1]["watcher"] == "ok"


def test_health_names_the_leader(stack: Stack) -> None:
    assert get(stack.bot.url + "/healthz")[1]["role"] == "standby"  # no job has run yet
    stack.bot.jobs.run("drain_outbox")  # takes the lease
    assert get(stack.bot.url + "/healthz")[1]["role"] == "leader"


def test_readiness_turns_503_when_stopping(stack: Stack) -> None:
    stack.bot.stopping = True
    assert get(stack.bot.url + "/readyz") == (503, {"ready": False, "reason": "shutting down"})
    assert get(stack.bot.url + "/healthz")[0] == 200


def test_socket_mode_readiness_follows_the_connection(
    tmp_path: Path, emulator: Emulator, emulator_server: RunningServer, clock: FakeClock
) -> None:
    stack = start_stack(tmp_path, emulator, emulator_server, clock, socket_mode=True)
    try:
        assert get(stack.bot.url + "/readyz") == (200, {"ready": True, "reason": "ok"})
        assert stack.bot.socket is not None
        stack.bot.socket.client.close()  # Slack's side is gone
        status, body = get(stack.bot.url + "/readyz")
        assert status == 503 and "Socket Mode" in body["reason"]
        assert get(stack.bot.url + "/healthz")[0] == 200
    finally:
        stack.bot.close()
        stack.slack.close()
