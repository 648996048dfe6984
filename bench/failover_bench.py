"""Failover: the leader replica is killed (SIGKILL); how long until another replica completes a
node poll, and were any alerts lost or sent twice? Repeated runs, two replicas on PostgreSQL.

Run: .venv/bin/python bench/failover_bench.py [--runs 5] [--lease-seconds 3]

There is no naive baseline here: the target (two lease periods) is the yardstick.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import median, table
from devstack.replicas import outbox_recorded, start_replicas
from devstack.waiting import eventually
from localslack import BOT_USER, LocalSlack
from tpu_emulator import Emulator
from tpu_emulator.server import serve

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def one_run(lease: int, poll_seconds: int) -> dict[str, float]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    emulator = Emulator(fleet=40, projects=1, op_seconds=1, clean=True)
    server = serve(emulator)
    slack = LocalSlack().start()
    config = {
        "projects": [{"id": "ml-prod", "sources": ["tpu"]}],
        "channels": {"alerts": "C0ALERTS", "approvals": "C0ONCALL"},
        "watch": {"poll_seconds": poll_seconds, "lease_seconds": lease},
    }
    replicas = start_replicas(
        2,
        Path(tempfile.mkdtemp()),
        slack,
        server.url,
        f"{PG}?options=-csearch_path%3D{schema}",
        config,
    )
    try:
        leader = eventually(lambda: next((r for r in replicas if r.leader), None), 60, "leader")
        standby = next(r for r in replicas if r is not leader)
        name = emulator.node_names("ml-prod")[0]
        node_id = name.rsplit("/", 1)[1]

        def about() -> list:
            return [
                m
                for m in slack.workspace.snapshot("C0ALERTS")
                if m.user == BOT_USER and node_id in m.text
            ]

        emulator.inject(name, {"state": "PREEMPTED", "health": ""})
        root = eventually(lambda: [m for m in about() if not m.thread_ts], 60, "alert")[0]
        database_url = f"{PG}?options=-csearch_path%3D{schema}"
        eventually(lambda: outbox_recorded(database_url), 30, "alert recorded as sent")
        ticks = standby.metric("tpubot_ticks_total", 'job="poll_nodes",outcome="ok"') or 0.0
        killed = time.monotonic()
        leader.kill()
        eventually(
            lambda: (
                (standby.metric("tpubot_ticks_total", 'job="poll_nodes",outcome="ok"') or 0.0)
                > ticks
            ),
            120,
            "standby tick",
        )
        failover = time.monotonic() - killed
        emulator.inject(name, {"state": "READY", "health": "HEALTHY"})
        eventually(lambda: [m for m in about() if m.thread_ts == root.ts], 60, "recovery")
        messages = about()
        return {
            "failover": failover,
            "duplicates": len(messages) - 2,
            "lost": 2 - len({(m.thread_ts or "root") for m in messages}),
        }
    finally:
        for replica in replicas:
            replica.stop()
        slack.close()
        server.close()
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lease-seconds", type=int, default=3)
    parser.add_argument("--poll-seconds", type=int, default=30)
    args = parser.parse_args()
    results = [one_run(args.lease_seconds, args.poll_seconds) for _ in range(args.runs)]
    times = [r["failover"] for r in results]
    print(
        f"Failover: 2 replicas on PostgreSQL, lease {args.lease_seconds} s, poll every "
        f"{args.poll_seconds} s, {args.runs} runs, {os.cpu_count()} cores\n"
    )
    print(
        table(
            [
                "run",
                "leader killed -> next tick by the other, s",
                "duplicate alerts",
                "lost alerts",
            ],
            [
                [i + 1, r["failover"], int(r["duplicates"]), int(r["lost"])]
                for i, r in enumerate(results)
            ],
        )
    )
    verdict = "met" if max(times) < 2 * args.lease_seconds else "NOT met"
    print(
        f"\nmedian {median(times):.2f} s, max {max(times):.2f} s; target under two lease "
        f"periods ({2 * args.lease_seconds} s) every time: {verdict}"
    )


if __name__ == "__main__":
    main()
