"""Detection at a fixed API cost: a fixed 60 s poll against a request budget of the same size.

Run: .venv/bin/python bench/watch_detect.py [--nodes 10000] [--projects 20] [--detections 40]
     [--minutes 30]

Simulated time: two identical emulators (same seed), one per watcher, so each one's requests are
counted apart; each watcher runs in this process (bench/watch_world.py) with `now` moved by hand in
5 s steps - the fixed one polls every project every 60 s, the budgeted one (watch.requests_per_
minute = what the fixed poll spends per minute, poll_seconds 120, plan_seconds 5) ticks every
step and polls what its plan picks. After a 35-minute warm-up (the incidents the first tick
finds in the seeded fleet are no longer fresh), a preemption storm hits four projects (the
trouble in progress), then preemptions land at random moments: most in those four projects,
some in quiet ones. Detection = the time of the tick whose incident names the node, less the
time of the injection (simulated seconds; each tick's own wall time, well under 1 s, is left
out). Requests per sliding 60 s come from each emulator's stats.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import Process, percentile, post_json, requests_served, start_emulator, table
from bench.watch_world import world
from bot.tpu.client import TpuClient
from bot.usecases.watch import Watcher
from devstack.clock import T0
from tpu_emulator.catalog import project_names

STEP = 5
WARMUP = 35 * 60  # the seeded fleet's own incidents, found at the start, are not fresh by then
HOT = 4


def spot_victims(url: str, projects: list[str]) -> dict[str, list[str]]:
    """Per project, READY and HEALTHY spot or preemptible nodes outside any queued resource."""
    client = TpuClient(url, retries=0, timeout=60)
    found = {}
    for project in projects:
        nodes = client.list_nodes(project).nodes
        found[project] = [
            n.name
            for n in nodes
            if n.is_healthy and (n.spot or n.preemptible) and not n.queued_resource
        ]
    return found


def _schedule(
    projects: list[str], victims: dict[str, list[str]], count: int, minutes: int
) -> tuple[list[str], list[tuple[float, str, bool]]]:
    rng = random.Random(13)
    hot = rng.sample(projects, HOT)
    storm = [name for p in hot for name in victims[p][:5]]
    quiet = [p for p in projects if p not in hot]
    plan: list[tuple[float, str, bool]] = []
    for i in range(count):
        at = rng.uniform(WARMUP + 120, minutes * 60 - 130)
        is_hot = i % 5 != 4  # four in five where the trouble is
        project = rng.choice(hot if is_hot else quiet)
        pool = [n for n in victims[project][5:] if n not in {v for _, v, _ in plan}]
        plan.append((at, rng.choice(pool), is_hot))
    return storm, sorted(plan)


def _run(
    emu: Process,
    tick: Callable[[datetime], Any],
    opened: Callable[[], set[str]],
    storm: list[str],
    plan: list[tuple[float, str, bool]],
    minutes: int,
) -> dict[str, Any]:
    spent: list[tuple[int, int]] = []
    found: dict[str, float] = {}
    pending = list(plan)
    for second in range(0, minutes * 60, STEP):
        if second == WARMUP:
            post_json(
                emu.url + "/emulator/v1/inject",
                {"names": storm, "state": "PREEMPTED", "health": ""},
            )
        while pending and pending[0][0] <= second:
            post_json(
                emu.url + f"/emulator/v1/{pending.pop(0)[1]}:inject",
                {"state": "PREEMPTED", "health": ""},
            )
        before = requests_served(emu.url)
        if tick(T0 + timedelta(seconds=second)) is not None:
            names = opened()
            for at, name, _ in plan:
                if at <= second and name not in found and name in names:
                    found[name] = second - at
        spent.append((second, requests_served(emu.url) - before))
    window = max(sum(n for at, n in spent if start <= at < start + 60) for start, _ in spent)
    return {"latency": found, "max_per_minute": window}


def detection(nodes: int, count: int, detections: int, minutes: int) -> dict[str, Any]:
    args = ("--fleet", str(nodes), "--projects", str(count), "--clean")
    fixed_emu, budget_emu = start_emulator(*args), start_emulator(*args)
    projects = project_names(count)
    try:
        storm, plan = _schedule(
            projects, spot_victims(fixed_emu.url, projects), detections, minutes
        )
        fixed_deps = world(fixed_emu.url, projects, tempfile.mktemp(suffix=".db"))
        before = requests_served(fixed_emu.url)
        fixed = Watcher(fixed_deps)
        fixed.poll(T0 - timedelta(seconds=60))  # the snapshots both start from
        sweep = requests_served(fixed_emu.url) - before
        budget_deps = world(
            budget_emu.url,
            projects,
            tempfile.mktemp(suffix=".db"),
            {"poll_seconds": 120, "requests_per_minute": sweep, "plan_seconds": STEP},
        )
        budget = Watcher(budget_deps)
        budget.poll(T0 - timedelta(seconds=60))

        def fixed_tick(now: datetime) -> Any:
            return fixed.poll(now) if (now - T0).total_seconds() % 60 == 0 else None

        results = {
            "fixed 60 s poll": _run(
                fixed_emu,
                fixed_tick,
                lambda: set(fixed_deps.watch.open_incidents()),
                storm,
                plan,
                minutes,
            ),
            f"budget {sweep}/min (poll_seconds 120)": _run(
                budget_emu,
                budget.tick,
                lambda: set(budget_deps.watch.open_incidents()),
                storm,
                plan,
                minutes,
            ),
        }
        return {"sweep": sweep, "plan": plan, "results": results}
    finally:
        fixed_emu.stop()
        budget_emu.stop()


def detection_table(found: dict[str, Any]) -> str:
    rows = []
    for label, result in found["results"].items():
        latency = result["latency"]
        groups = {
            "all": [latency.get(name, float("inf")) for _, name, _ in found["plan"]],
            "trouble": [latency.get(n, float("inf")) for _, n, hot in found["plan"] if hot],
            "quiet": [latency.get(n, float("inf")) for _, n, hot in found["plan"] if not hot],
        }
        for group, values in groups.items():
            rows.append(
                [
                    label,
                    f"{group} ({len(values)})",
                    percentile(values, 50),
                    percentile(values, 99),
                    max(values),
                    result["max_per_minute"],
                ]
            )
    return table(
        ["watcher", "preemptions", "p50 s", "p99 s", "max s", "max requests in 60 s"], rows
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--detections", type=int, default=60)
    parser.add_argument("--minutes", type=int, default=70)
    args = parser.parse_args()
    found = detection(args.nodes, args.projects, args.detections, args.minutes)
    print(
        f"Detection, {args.nodes} nodes in {args.projects} projects, {args.minutes} simulated "
        f"minutes; a full sweep is {found['sweep']} requests\n"
    )
    print(detection_table(found))


if __name__ == "__main__":
    main()
