"""Two and three real `tpu-bot serve` processes on PostgreSQL: one alert per preemption; SIGKILL the
leader mid-incident and another carries on in the same thread; any replica answers commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.replicas import outbox_recorded, start_replicas
from devstack.stack import ALERTS, APPROVALS, VIEWER, people
from devstack.waiting import eventually
from localslack import BOT_USER, LocalSlack
from tpu_emulator import Emulator
from tpu_emulator.server import serve

CONFIG = {
    "projects": [{"id": "ml-prod", "sources": ["tpu"]}],
    "channels": {"alerts": ALERTS, "approvals": APPROVALS},
    "watch": {"poll_seconds": 5, "operations_seconds": 2, "lease_seconds": 3},
}


@pytest.mark.parametrize("count", [2, 3])
def test_replicas_alert_once_and_fail_over_after_sigkill(
    tmp_path: Path, pg_url: str, count: int
) -> None:
    emulator = Emulator(fleet=40, projects=1, op_seconds=1, clean=True)
    server = serve(emulator)
    slack = LocalSlack().start()
    people(slack)
    replicas = start_replicas(count, tmp_path, slack, server.url, pg_url, CONFIG)
    try:
        leader = eventually(lambda: next((r for r in replicas if r.leader), None), 30, "a leader")
        assert sum(r.leader for r in replicas) == 1
        name = emulator.node_names("ml-prod")[0]
        node_id = name.rsplit("/", 1)[1]

        def about_node() -> list:
            return [
                m
                for m in slack.workspace.snapshot(ALERTS)
                if m.user == BOT_USER and node_id in m.text
            ]

        emulator.inject(name, {"state": "PREEMPTED", "health": ""})
        root = eventually(lambda: [m for m in about_node() if not m.thread_ts], 30, "the alert")[0]

        eventually(lambda: outbox_recorded(pg_url), 30, "alert recorded as sent")
        leader.kill()  # no goodbye, no lease release
        emulator.inject(name, {"state": "READY", "health": "HEALTHY"})
        reply = eventually(
            lambda: [m for m in about_node() if m.thread_ts == root.ts], 60, "recovery"
        )
        assert len(reply) == 1 and "recovered" in reply[0].text
        survivors = [r for r in replicas if r is not leader]
        assert sum(r.leader for r in survivors) == 1
        eventually(lambda: "Resolved" in root.text, 30, "root resolved")
        assert len(about_node()) == 2  # one root, one reply: nothing twice, nothing lost

        for replica in survivors:
            slack.bot_url = replica.url + "/slack/events"
            before = len(slack.workspace.snapshot())
            assert slack.slash(VIEWER, "list").status == 200

            def answered(before: int = before) -> list:
                fresh = slack.workspace.snapshot()[before:]
                return [m for m in fresh if m.user == BOT_USER and m.ephemeral_for == VIEWER]

            eventually(answered, 30, "answer")
    finally:
        for replica in replicas:
            replica.stop()
        slack.close()
        server.close()
