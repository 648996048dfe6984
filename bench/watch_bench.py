"""The watcher at fleet scale, beside a naive watcher that calls nodes.get per node.

Run: .venv/bin/python bench/watch_bench.py [--nodes 10000] [--projects 20] [--detections 10]

Three processes: the emulator (`tpu-bot emulator --clean`), the bot (`tpu-bot serve`, HTTP mode,
SQLite, its real scheduler polling every 5 s), and this one, which runs localslack and measures.
Tick time comes from the bot's own /metrics; CPU and memory from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import percentile, rss_mb, start_emulator, table
from bot.tpu.client import TpuClient
from devstack.waiting import eventually, free_port
from localslack import BOT_TOKEN, SIGNING_SECRET, LocalSlack
from tpu_emulator.catalog import project_names

POLL_SECONDS = 5


def http_json(url: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method="POST" if data else "GET",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def calls(url: str, method: str) -> int:
    """How many times the emulator answered a method, through v1alpha1 or v2."""
    requests = http_json(url + "/emulator/v1/stats")["requests"]
    return int(requests.get(method, 0)) + int(requests.get("v2." + method, 0))


def metric(base: str, name: str, labels: str) -> float:
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
            text = response.read().decode()
    except OSError:  # not serving yet
        return 0.0
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--detections", type=int, default=10)
    parser.add_argument("--storm", type=int, default=1000)
    args = parser.parse_args()

    emu = start_emulator("--fleet", str(args.nodes), "--projects", str(args.projects), "--clean")
    slack = LocalSlack().start()
    tmp = Path(tempfile.mkdtemp())
    projects = project_names(args.projects)
    (tmp / "tpubot.yaml").write_text(
        yaml.safe_dump(
            {
                "projects": [{"id": p} for p in projects],
                "channels": {"alerts": "C0ALERTS", "approvals": "C0ONCALL"},
                "watch": {"poll_seconds": POLL_SECONDS, "storm_threshold": 5},
            }
        )
    )
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "TPU_API_ENDPOINT": emu.url,
        "TPUBOT_CONFIG": str(tmp / "tpubot.yaml"),
        "TPUBOT_DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
        "PORT": str(port),
    }
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "--log-level", "WARNING", "serve", "--host", "127.0.0.1"],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    ticks = 'job="poll_nodes",outcome="ok"'
    results: dict[str, Any] = {}
    try:
        eventually(lambda: metric(base, "tpubot_ticks_total", ticks) >= 1, 120, "first tick")
        # Requests and CPU per tick, over a few steady ticks.
        start_ticks = metric(base, "tpubot_ticks_total", ticks)
        stats0 = calls(emu.url, "nodes.list")
        cpu0 = cpu_seconds(bot.pid)
        eventually(
            lambda: metric(base, "tpubot_ticks_total", ticks) >= start_ticks + 3, 120, "ticks"
        )
        done_ticks = metric(base, "tpubot_ticks_total", ticks) - start_ticks
        stats1 = calls(emu.url, "nodes.list")
        results["requests"] = (stats1 - stats0) / done_ticks
        results["cpu"] = (cpu_seconds(bot.pid) - cpu0) / done_ticks
        total = metric(base, "tpubot_tick_seconds_sum", 'job="poll_nodes"')
        count = metric(base, "tpubot_tick_seconds_count", 'job="poll_nodes"')
        results["wall"] = total / count
        results["rss"] = rss_mb(bot.pid)
        pages = sum(
            -(-len(TpuClient(emu.url, retries=0).list_nodes(p).nodes) // 1000) for p in projects[:1]
        )
        results["minimum"] = pages * len(projects)

        # Detection to Slack: one preemption at a time, at a random moment of the poll cycle.
        client = TpuClient(emu.url, retries=0)
        healthy = [n.name for p in projects for n in client.list_nodes(p).nodes]
        random.Random(1).shuffle(healthy)
        latencies = []
        for name in healthy[: args.detections]:
            threading.Event().wait(random.Random(name).uniform(0, POLL_SECONDS))
            before = len(slack.workspace.calls)
            started = time.monotonic()
            http_json(f"{emu.url}/emulator/v1/{name}:inject", {"state": "PREEMPTED", "health": ""})
            node_id = name.rsplit("/", 1)[1]

            def alerted(node_id: str = node_id, before: int = before) -> bool:
                return any(
                    c.method == "chat.postMessage" and c.ok and node_id in json.dumps(c.args)
                    for c in slack.workspace.calls[before:]
                )

            eventually(alerted, 60, "alert")
            latencies.append(time.monotonic() - started)
        results["latency"] = latencies

        # Storm: many preemptions in one zone at once, across every project.
        zone = "us-central1-b"
        victims = [n for n in healthy[args.detections :] if f"/locations/{zone}/" in n][
            : args.storm
        ]
        calls_before = len(slack.workspace.calls)
        storm_started = time.time()
        http_json(
            emu.url + "/emulator/v1/inject", {"names": victims, "state": "PREEMPTED", "health": ""}
        )
        db = sqlite3.connect(tmp / "bot.db")

        def all_told() -> bool:
            told = db.execute(
                "SELECT count(*) FROM incidents i JOIN outbox o ON o.id = i.root_outbox "
                "WHERE o.sent_at IS NOT NULL AND i.node IN (SELECT value FROM json_each(?))",
                (json.dumps(victims),),
            ).fetchone()[0]
            return told == len(victims)

        eventually(all_told, 600, "storm delivered")
        storm_calls = [
            c
            for c in slack.workspace.calls[calls_before:]
            if c.ok and c.method in ("chat.postMessage", "chat.update")
        ]
        per_second = Counter((c.channel, int(c.at)) for c in storm_calls)
        groups = {(n.split("/")[1], zone) for n in victims}
        results["storm"] = {
            "victims": len(victims),
            "groups": len(groups),
            "messages": len(storm_calls),
            "max_per_channel_second": max(per_second.values()),
            "lost": len(victims)
            - db.execute(
                "SELECT count(*) FROM incidents WHERE node IN (SELECT value FROM json_each(?))",
                (json.dumps(victims),),
            ).fetchone()[0],
            "seconds": max(c.at for c in storm_calls) - storm_started,
        }
        results["rss_after"] = rss_mb(bot.pid)

        # Naive: one nodes.get per node per tick, 16 threads.
        stats0 = calls(emu.url, "nodes.get")
        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(client.get_node, healthy))
        results["naive_wall"] = time.perf_counter() - started
        results["naive_requests"] = calls(emu.url, "nodes.get") - stats0
    finally:
        bot.terminate()
        bot.wait(timeout=30)
        slack.close()
        emu.stop()

    storm = results["storm"]
    print(
        f"Watcher: {args.nodes} nodes in {args.projects} projects, poll every {POLL_SECONDS} s, "
        f"{os.cpu_count()} cores\n"
    )
    print(
        table(
            ["measure", "tpu-bot", "naive (nodes.get per node)", "target"],
            [
                [
                    "API requests per tick",
                    results["requests"],
                    results["naive_requests"],
                    f"= minimum ({results['minimum']})",
                ],
                ["tick wall time, s", results["wall"], results["naive_wall"], "< 2"],
                ["tick CPU time (bot process), s", results["cpu"], "-", ""],
                ["detection to Slack p50, s", percentile(results["latency"], 50), "-", ""],
                [
                    "detection to Slack p99, s",
                    percentile(results["latency"], 99),
                    "-",
                    f"< {POLL_SECONDS + 2} (poll + 2)",
                ],
                ["bot RSS watching, MB", results["rss"], "-", "< 150"],
                ["bot RSS after the storm, MB", results["rss_after"], "-", ""],
            ],
        )
    )
    print(f"\nStorm: {storm['victims']} preemptions in one zone, across {storm['groups']} projects")
    print(
        table(
            ["measure", "value", "target"],
            [
                [
                    "Slack messages (posts and edits)",
                    storm["messages"],
                    "<= 2 per affected zone per tick",
                ],
                [
                    "highest messages per channel per second",
                    storm["max_per_channel_second"],
                    "<= 1",
                ],
                ["alerts lost", storm["lost"], "0"],
                ["seconds until every alert was in Slack", storm["seconds"], ""],
            ],
        )
    )


if __name__ == "__main__":
    main()
