"""The watcher at the floor: the bot's steady tick beside a bare fetch of the same fleet.

Run: .venv/bin/python bench/watch_bench.py [--nodes 10000] [--projects 20] [--rounds 5]
     [--big-nodes 50000] [--big-projects 100] [--no-big] [--no-detection]

Per fleet: the emulator (`tpu-bot emulator --clean`) in its own process; the bot, wired by
`bot.app.build`, in its own process (bench/watch_child.py: a tick when asked, its wall and CPU
time, its RSS); and this one, which runs the bare fetch - a plain googleapiclient program (v2,
wildcard zone, pageSize 1000, nodes only): sequential, and one thread per project; and, since a
tick also lists queued resources, one thread per project fetching the same pages the tick does
(nodes, then queued resources). Each round runs the bare fetches and one steady bot tick back to
back, so
the ratios compare runs on the same machine at the same moment. Requests come from the
emulator's stats. The detection comparison is bench/watch_detect.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httplib2
import yaml
from googleapiclient import discovery

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import median, requests_served, start_emulator, table
from bench.watch_detect import detection, detection_table
from localslack import BOT_TOKEN, SIGNING_SECRET, LocalSlack
from tpu_emulator.catalog import project_names


def service(url: str) -> Any:
    return discovery.build(
        "tpu",
        "v2",
        static_discovery=True,
        http=httplib2.Http(timeout=60),
        client_options={"api_endpoint": url + "/"},
    )


def fetch(svc: Any, project: str, collection: str = "nodes") -> tuple[int, int]:
    """(items, pages) of one wildcard listing, the plain way."""
    resource = getattr(svc.projects().locations(), collection)()
    request = resource.list(parent=f"projects/{project}/locations/-", pageSize=1000)
    items = pages = 0
    while request is not None:
        response = request.execute(http=httplib2.Http(timeout=60))
        items += len(response.get(collection, []))
        pages += 1
        request = resource.list_next(request, response)
    return items, pages


class Child:
    """The bot in its own process, one tick per request."""

    def __init__(self, env: dict[str, str]) -> None:
        here = os.path.dirname(os.path.abspath(__file__))
        self.popen = subprocess.Popen(
            [sys.executable, os.path.join(here, "watch_child.py")],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError("the bot process ended")
        return dict(json.loads(line))

    def tick(self) -> dict[str, Any]:
        assert self.popen.stdin is not None
        self.popen.stdin.write("tick\n")
        self.popen.stdin.flush()
        return self._answer()

    def stop(self) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.close()
        self.popen.wait(timeout=30)


def bot_env(
    tmp: Path,
    emu_url: str,
    slack: LocalSlack,
    projects: list[str],
    sources: tuple[str, ...] = ("tpu",),
) -> dict[str, str]:
    """(The Cloud TPU API's nodes only by default: bench/compute_bench.py adds Compute.)"""
    (tmp / "tpubot.yaml").write_text(
        yaml.safe_dump(
            {
                "projects": [{"id": p, "sources": list(sources)} for p in projects],
                "channels": {"alerts": "C0ALERTS", "approvals": "C0ONCALL"},
                "watch": {"poll_seconds": 60, "storm_threshold": 5},
            }
        )
    )
    return {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "TPU_API_ENDPOINT": emu_url,
        "COMPUTE_API_ENDPOINT": emu_url,
        "MONITORING_API_ENDPOINT": emu_url,
        "TPUBOT_CONFIG": str(tmp / "tpubot.yaml"),
        "TPUBOT_DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
    }


def scale(nodes: int, count: int, rounds: int) -> dict[str, Any]:
    emu = start_emulator("--fleet", str(nodes), "--projects", str(count), "--clean")
    slack = LocalSlack().start()
    projects = project_names(count)
    child = None
    try:
        svc = service(emu.url)
        threads = [service(emu.url) for _ in projects]
        minimum = sum(fetch(svc, p)[1] + fetch(svc, p, "queuedResources")[1] for p in projects)
        child = Child(bot_env(Path(tempfile.mkdtemp()), emu.url, slack, projects))
        first = child.tick()  # every node appears
        child.tick()

        def both(svc: Any, project: str) -> None:
            fetch(svc, project)
            fetch(svc, project, "queuedResources")

        seq, par, par_all, ticks, requests = [], [], [], [], []
        for _ in range(rounds):
            started = time.perf_counter()
            for project in projects:
                fetch(svc, project)
            seq.append(time.perf_counter() - started)
            started = time.perf_counter()
            with ThreadPoolExecutor(len(projects)) as pool:
                list(pool.map(fetch, threads, projects))
            par.append(time.perf_counter() - started)
            started = time.perf_counter()
            with ThreadPoolExecutor(len(projects)) as pool:
                list(pool.map(both, threads, projects))
            par_all.append(time.perf_counter() - started)
            before = requests_served(emu.url)
            ticks.append(child.tick())
            requests.append(requests_served(emu.url) - before)
        return {
            "nodes": nodes,
            "projects": count,
            "seq": median(seq),
            "par": median(par),
            "par_all": median(par_all),
            "tick": median([t["wall"] for t in ticks]),
            "cpu": median([t["cpu"] for t in ticks]),
            "first_tick": first["wall"],
            "changed": max(t["changed"] for t in ticks),
            "requests": max(requests),
            "minimum": minimum,
            "rss_ready": child.ready["rss"],
            "rss": max(t["rss"] for t in ticks),
        }
    finally:
        if child is not None:
            child.stop()
        slack.close()
        emu.stop()


def scale_table(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        per_node = (r["rss"] - r["rss_ready"]) * 1024 / r["nodes"]
        rows.append(
            [
                f"{r['nodes']} in {r['projects']}",
                r["seq"],
                r["par"],
                r["tick"],
                r["tick"] / r["seq"],
                r["tick"] / r["par"],
                r["par_all"],
                r["tick"] / r["par_all"],
                r["cpu"],
                f"{r['requests']} / {r['minimum']}",
                r["changed"],
                r["first_tick"],
                r["rss"],
                per_node,
            ]
        )
    return table(
        [
            "nodes in projects",
            "bare seq s",
            "bare par s",
            "bot tick s",
            "tick/seq",
            "tick/par",
            "bare par, +queues s",
            "tick/par+queues",
            "tick CPU s",
            "requests/min.",
            "models built",
            "first tick s",
            "bot RSS MB",
            "KB/node",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big-nodes", type=int, default=50_000)
    parser.add_argument("--big-projects", type=int, default=100)
    parser.add_argument("--no-big", action="store_true")
    parser.add_argument("--no-detection", action="store_true")
    parser.add_argument("--detections", type=int, default=60)
    parser.add_argument("--minutes", type=int, default=70, help="simulated, for detection")
    args = parser.parse_args()
    results = [scale(args.nodes, args.projects, args.rounds)]
    if not args.no_big:
        results.append(scale(args.big_nodes, args.big_projects, max(2, args.rounds // 2)))
    print(f"Watcher steady tick against the bare fetch, {os.cpu_count()} cores\n")
    print(scale_table(results))
    print(
        "\nTargets (first row): tick/seq <= 1.5, goal tick/par <= 1.2, bot RSS < 120 MB, "
        "requests = minimum (nodes + queued-resource pages per project; KB/node: RSS growth "
        "from start-up to steady, per node)"
    )
    if not args.no_detection:
        found = detection(args.nodes, args.projects, args.detections, args.minutes)
        print()
        print(detection_table(found))


if __name__ == "__main__":
    main()
