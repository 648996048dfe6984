"""Several replicas on one PostgreSQL database: one leads the jobs, any answers commands, and a
standby takes over when the leader dies, carrying on its incidents and outbox."""

from __future__ import annotations

from pathlib import Path

from bot.app import build
from bot.tpu.client import TpuClient
from devstack.clock import FakeClock
from devstack.stack import ALERTS, VIEWER, Stack, start_stack
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer


def run_jobs(stacks: list[Stack], name: str) -> None:
    for stack in stacks:
        stack.bot.jobs.run(name)


def drain(stacks: list[Stack], clock: FakeClock) -> None:
    for _ in range(100):
        if stacks[0].bot.watch.outbox.depth() == 0:
            return
        run_jobs(stacks, "drain_outbox")
        clock.advance(1)
    raise AssertionError("outbox did not drain")


def test_two_replicas_alert_once_and_fail_over(
    tmp_path: Path,
    emulator: Emulator,
    emulator_server: RunningServer,
    clock: FakeClock,
    pg_url: str,
) -> None:
    first = start_stack(tmp_path, emulator, emulator_server, clock, database_url=pg_url)
    second_bot = build(
        first.bot.settings, clock=clock, tpu=TpuClient(emulator_server.url, retries=0)
    ).start(port=0, scheduler=False)
    second = Stack(emulator, emulator_server, first.slack, second_bot, clock)
    replicas = [first, second]
    try:
        run_jobs(replicas, "poll_nodes")
        drain(replicas, clock)
        leaders = [r.bot.metrics.registry.get_sample_value("tpubot_leader") for r in replicas]
        assert sorted(leaders) == [0, 1]
        leader, standby = (first, second) if leaders[0] == 1 else (second, first)

        name = next(
            n
            for n in emulator.node_names("ml-prod")
            if emulator.get_node(n)["state"] == "READY"
            and emulator.get_node(n).get("health") == "HEALTHY"
        )
        node_id = name.rsplit("/", 1)[1]
        emulator.inject(name, {"state": "PREEMPTED", "health": ""})
        clock.advance(60)
        run_jobs(replicas, "poll_nodes")
        drain(replicas, clock)
        alerts = [m for m in first.bot_messages(ALERTS) if node_id in m.text and not m.thread_ts]
        assert len(alerts) == 1

        # Any replica answers commands, the standby included.
        first.slack.bot_url = standby.bot.url + "/slack/events"
        assert "TPUs" in str(first.command(VIEWER, "list project=ml-prod").blocks)

        # The leader dies without a word (no release); its lease runs out; the standby leads.
        emulator.inject(name, {"state": "READY", "health": "HEALTHY"})
        clock.advance(16)
        standby.bot.jobs.run("poll_nodes")
        drain([standby], clock)
        assert standby.bot.metrics.registry.get_sample_value("tpubot_leader") == 1
        root = alerts[0]
        replies = [m for m in first.bot_messages(ALERTS) if m.thread_ts == root.ts]
        assert len(replies) == 1 and "recovered" in replies[0].text
        assert "Resolved" in root.text
        # Nothing was posted twice.
        posted = [m for m in first.bot_messages(ALERTS) if node_id in m.text]
        assert len(posted) == 2
        # The old leader, if it came back, is a standby now.
        leader.bot.jobs.run("poll_nodes")
        assert leader.bot.metrics.registry.get_sample_value("tpubot_leader") == 0
    finally:
        second_bot.close()
        first.close()
