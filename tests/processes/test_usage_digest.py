"""The daily digest is posted once a day across replicas (issue 21): two real `tpu-bot serve`
processes on PostgreSQL; the leader posts it at its local time; after a SIGKILL of the leader
the other takes over and does not post it again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from devstack.replicas import outbox_recorded, start_replicas
from devstack.stack import ALERTS, APPROVALS, people
from devstack.waiting import eventually
from localslack import BOT_USER, LocalSlack
from tpu_emulator import Emulator
from tpu_emulator.server import serve


def test_the_digest_is_posted_once_across_replicas_and_a_failover(
    tmp_path: Path, pg_url: str
) -> None:
    emulator = Emulator(fleet=20, projects=1, op_seconds=1, clean=True)
    server = serve(emulator)
    slack = LocalSlack().start()
    people(slack)
    due = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M")
    config = {
        "projects": [{"id": "ml-prod"}],
        "channels": {"alerts": ALERTS, "approvals": APPROVALS},
        "watch": {"poll_seconds": 60, "lease_seconds": 3},
        "usage": {"digest_at": due},
    }
    replicas = start_replicas(2, tmp_path, slack, server.url, pg_url, config)

    def digests() -> list[str]:
        return [
            m.text
            for m in slack.workspace.snapshot(ALERTS)
            if m.user == BOT_USER and m.text.startswith("TPU usage")
        ]

    try:
        leader = eventually(lambda: next((r for r in replicas if r.leader), None), 30, "a leader")
        eventually(lambda: len(digests()) == 1, 60, "the digest")
        eventually(lambda: outbox_recorded(pg_url), 30, "the digest recorded as sent")
        leader.kill()
        (other,) = [r for r in replicas if r is not leader]
        eventually(lambda: other.leader, 30, "the other replica leads")
        # The new leader ran every job at once on taking over, the digest's included.
        eventually(
            lambda: (
                (other.metric("tpubot_ticks_total", 'job="usage_digest",outcome="ok"') or 0) >= 1
            ),
            30,
            "the new leader checked the digest",
        )
        assert len(digests()) == 1
        assert "busy" in digests()[0]
    finally:
        for replica in replicas:
            replica.stop()
        slack.close()
        server.close()
