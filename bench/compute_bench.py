"""The watcher over both sources of TPUs: a steady tick over Cloud TPU API nodes and Compute
Engine TPU VMs, beside a bare client fetching the same pages in the same run.

Run: .venv/bin/python bench/compute_bench.py [--nodes 10000] [--instances 10000] [--projects 20]
     [--rounds 5]

The emulator (`tpu-bot emulator --clean`, its `--fleet` seeding as many TPU VMs as nodes) runs in
its own process, the bot (wired by `bot.app.build`, both sources on every project) in another
(bench/watch_child.py), and this one runs the bare fetch: a plain googleapiclient program, one
thread per project, fetching what a steady tick fetches (TPU API v2 nodes and queued resources,
wildcard zone, pageSize 1000; Compute's filtered `instances.aggregatedList`, maxResults 500,
partial success). Each round runs the bare fetch and one steady tick back to back. Requests come
from the emulator's stats, per method.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httplib2
from googleapiclient import discovery

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import median, start_emulator, table
from bench.watch_bench import Child, bot_env, fetch, service
from bot.tpu.compute import PARTIAL, TPU_FILTER
from localslack import LocalSlack
from tpu_emulator.catalog import project_names


def compute_service(url: str) -> Any:
    return discovery.build(
        "compute",
        "v1",
        static_discovery=True,
        http=httplib2.Http(timeout=60),
        client_options={"api_endpoint": url + "/compute/v1/"},
    )


def fetch_instances(svc: Any, project: str) -> tuple[int, int]:
    """(instances, pages) of one filtered aggregated listing, the plain way."""
    instances = svc.instances()
    request = instances.aggregatedList(project=project, filter=TPU_FILTER, maxResults=500)
    request.uri += PARTIAL
    items = pages = 0
    while request is not None:
        response = request.execute(http=httplib2.Http(timeout=60))
        items += sum(len(s.get("instances", [])) for s in response.get("items", {}).values())
        pages += 1
        request = instances.aggregatedList_next(request, response)
    return items, pages


# What a steady tick asks for; the rest of a first tick is the capacity around the TPU VMs.
STEADY_METHODS = ("v2.nodes.list", "v2.queuedResources.list", "compute.instances.aggregatedList")


def stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url + "/emulator/v1/stats", timeout=60) as response:
        return dict(json.loads(response.read())["requests"])


def spent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def run(nodes: int, instances: int, count: int, rounds: int) -> dict[str, Any]:
    if instances != nodes:
        raise SystemExit("the emulator seeds one TPU VM per node: --instances must equal --nodes")
    emu = start_emulator("--fleet", str(nodes), "--projects", str(count), "--clean")
    slack = LocalSlack().start()
    projects = project_names(count)
    child = None
    try:
        tpus = [service(emu.url) for _ in projects]
        machines = [compute_service(emu.url) for _ in projects]

        def everything(i: int) -> tuple[int, int]:
            project = projects[i]
            a = fetch(tpus[i], project)
            b = fetch(tpus[i], project, "queuedResources")
            c = fetch_instances(machines[i], project)
            return a[0] + c[0], a[1] + b[1] + c[1]

        listed = [everything(i) for i in range(count)]
        minimum = sum(pages for _, pages in listed)
        env = bot_env(Path(tempfile.mkdtemp()), emu.url, slack, projects, ("tpu", "compute"))
        child = Child(env)
        before = stats(emu.url)
        first = child.tick()  # every node and TPU VM appears (and the capacity is read)
        capacity = {
            k: n for k, n in spent(before, stats(emu.url)).items() if k not in STEADY_METHODS
        }
        child.tick()
        bare, ticks, requests = [], [], []
        for _ in range(rounds):
            started = time.perf_counter()
            with ThreadPoolExecutor(count) as pool:
                list(pool.map(everything, range(count)))
            bare.append(time.perf_counter() - started)
            before = stats(emu.url)
            ticks.append(child.tick())
            requests.append(spent(before, stats(emu.url)))
        return {
            "nodes": nodes,
            "instances": sum(items for items, _ in listed) - nodes,
            "projects": count,
            "bare": median(bare),
            "tick": median([t["wall"] for t in ticks]),
            "cpu": median([t["cpu"] for t in ticks]),
            "first_tick": first["wall"],
            "requests": max(sum(r.values()) for r in requests),
            "by_method": requests[-1],
            "capacity": capacity,
            "minimum": minimum,
            "rss_ready": child.ready["rss"],
            "rss": max(t["rss"] for t in ticks),
        }
    finally:
        if child is not None:
            child.stop()
        slack.close()
        emu.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    r = run(args.nodes, args.instances, args.projects, args.rounds)
    print(
        f"Steady tick over both sources against the bare parallel fetch, {os.cpu_count()} cores\n"
    )
    row = [
        f"{r['nodes']} + {r['instances']} in {r['projects']}",
        r["bare"],
        r["tick"],
        r["tick"] / r["bare"],
        r["cpu"],
        f"{r['requests']} / {r['minimum']}",
        r["first_tick"],
        r["rss_ready"],
        r["rss"],
    ]
    headers = [
        "nodes + TPU VMs in projects",
        "bare par s",
        "bot tick s",
        "tick/bare",
        "tick CPU s",
        "requests/min.",
        "first tick s",
        "RSS ready MB",
        "RSS MB",
    ]
    print(table(headers, [row]))
    print("\nRequests of the last steady tick, by method:")
    for method, n in sorted(r["by_method"].items()):
        print(f"  {method}: {n}")
    total = sum(r["capacity"].values())
    print(f"\nCapacity (every watch.capacity_seconds, here in the first tick): {total} requests")
    for method, n in sorted(r["capacity"].items()):
        print(f"  {method}: {n}")
    print(
        "\nTargets: tick/bare <= 1.3, RSS < 160 MB, requests = minimum (nodes, queued-resource "
        "and instance pages per project; capacity is read on its own cadence, not in a steady "
        "tick)"
    )


if __name__ == "__main__":
    main()
