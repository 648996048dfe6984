"""The idle check's cost at fleet scale: Monitoring requests per check and the CPU the adapter
adds, against a bare googleapiclient fetch of the same pages in the same run.

Run: .venv/bin/python bench/usage_bench.py [--fleet 10000] [--projects 20] [--repeat 5]

The emulator runs in this process. Two CPU measurements around each check and each bare fetch:
the process's (the emulator's serving threads included, so the difference is the adapter's plus
noise from the emulator's own work) and the calling thread's (the client alone: the emulator
answers on threads of its own). A check reads every project once; "requests" are counted by the
emulator (`monitoring.projects.timeSeries.list`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httplib2
from googleapiclient import discovery

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import median, table
from bot.core.usage import (
    DEFAULT_EXEMPT_LABELS,
    Metric,
    TpuKind,
    facts_of_node,
    idle_verdict,
)
from bot.tpu.monitoring import (
    DEFAULT_METRICS,
    GCE_TPU_WORKER,
    LIST_METHOD,
    TPU_WORKER,
    MonitoringClient,
    ResourceKind,
    rfc3339,
)
from bot.tpu.wire_v2 import node_from_api
from devstack.clock import FakeClock
from tpu_emulator import Emulator
from tpu_emulator.server import serve

DUTY = DEFAULT_METRICS[Metric.DUTY_CYCLE].type


def bare_service(url: str) -> Any:
    return discovery.build(
        "monitoring",
        "v3",
        static_discovery=True,
        http=httplib2.Http(timeout=120),
        client_options={"api_endpoint": url},
    )


def bare_fetch(service: Any, projects: Sequence[str], window: timedelta, step: timedelta,
               now: Any, page_size: int, resources: Sequence[ResourceKind]) -> int:  # fmt: skip
    """The same queries through googleapiclient alone: pages fetched, nothing parsed."""
    points = 0
    for project in projects:
        for resource in resources:
            token = ""
            while True:
                request = (
                    service.projects()
                    .timeSeries()
                    .list(
                        name=f"projects/{project}",
                        filter=f'metric.type = "{DUTY}" AND '
                        f'resource.type = "{resource.resource_type}"',
                        interval_startTime=rfc3339(now - window),
                        interval_endTime=rfc3339(now),
                        aggregation_alignmentPeriod=f"{int(step.total_seconds())}s",
                        aggregation_perSeriesAligner="ALIGN_MEAN",
                        aggregation_crossSeriesReducer="REDUCE_MAX",
                        aggregation_groupByFields=resource.group_by,
                        view="FULL",
                        pageSize=page_size,
                        **({"pageToken": token} if token else {}),
                    )
                )
                page = request.execute(http=httplib2.Http(timeout=120))
                points += sum(len(s.get("points", [])) for s in page.get("timeSeries", []))
                token = page.get("nextPageToken", "")
                if not token:
                    break
    return points


def cpu(call: Callable[..., Any], *args: Any) -> tuple[tuple[float, float], Any]:
    """CPU time around one call: the process's (every thread, the emulator's serving threads
    too) and this thread's (the client alone: the emulator answers on threads of its own)."""
    process, thread = time.process_time(), time.thread_time()
    result = call(*args)
    return (time.process_time() - process, time.thread_time() - thread), result


def check(
    monitoring: MonitoringClient,
    projects: Sequence[str],
    window: timedelta,
    now: Any,
    step: timedelta | None,
    kinds: set[TpuKind] | None,
) -> list[Any]:
    """One check: every project's usage, as the idle job would read it."""
    return [monitoring.usage(p, window, now, step=step, kinds=kinds) for p in projects]


@dataclass(frozen=True)
class Case:
    name: str
    window: timedelta
    step: timedelta | None
    page_size: int
    kinds: set[TpuKind] | None


CASES = (
    Case("idle check: 3 h, one period", timedelta(hours=3), None, 100_000, {TpuKind.NODE}),
    Case("idle check, both kinds", timedelta(hours=3), None, 100_000, None),
    Case("idle check, 100-point pages", timedelta(hours=3), None, 100, {TpuKind.NODE}),
    Case("usage table: 24 h hourly", timedelta(days=1), timedelta(hours=1), 100_000,
         {TpuKind.NODE}),
)  # fmt: skip
HEADERS = (
    "query",
    "requests/check",
    "per project",
    "TPUs read",
    "process CPU s",
    "added, process",
    "client CPU s",
    "bare client s",
    "added, client",
    "added µs/TPU",
)


def measure(
    case: Case, emulator: Emulator, url: str, now: Any, repeat: int
) -> tuple[list[object], list[Any]]:
    """One case, `repeat` times: a row of the table, and the last check's listings."""
    projects = list(emulator.stats_json()["projects"])
    monitoring = MonitoringClient(url, retries=0, timeout=120, page_size=case.page_size)
    service = bare_service(url)
    kinds = case.kinds
    resources = [r for r in (TPU_WORKER, GCE_TPU_WORKER) if kinds is None or r.kind in kinds]
    bare = (service, projects, case.window, case.step or case.window, now, case.page_size)
    checks: list[tuple[float, float]] = []
    bares: list[tuple[float, float]] = []
    sent: list[int] = []
    listings: list[Any] = []
    for run in range(repeat):
        if run % 2:  # alternate which goes first, so warm caches favour neither
            bares.append(cpu(bare_fetch, *bare, resources)[0])
        before = emulator.stats_json()["requests"].get(LIST_METHOD, 0)
        seconds, listings = cpu(check, monitoring, projects, case.window, now, case.step, kinds)
        checks.append(seconds)
        sent.append(emulator.stats_json()["requests"].get(LIST_METHOD, 0) - before)
        if not run % 2:
            bares.append(cpu(bare_fetch, *bare, resources)[0])
    tpus = sum(len(listing.usages) for listing in listings)
    process = [median([c[0] for c in checks]), median([b[0] for b in bares])]
    client = [median([c[1] for c in checks]), median([b[1] for b in bares])]
    added = client[0] - client[1]
    row = [case.name, max(sent), f"{max(sent) / len(projects):.2f}", tpus, process[0]]
    row += [process[0] - process[1], client[0], client[1], added, added / max(1, tpus) * 1e6]
    return row, listings


def verdicts(emulator: Emulator, listings: Sequence[Any], now: Any) -> tuple[int, float, int]:
    """The pure verdicts over the fleet (hourly listings: the 3-hour window is their newest
    three periods): TPUs judged, this thread's CPU seconds, how many idle."""
    nodes = [
        node_from_api(n)
        for p in emulator.stats_json()["projects"]
        for n in emulator.v2_list_nodes(f"projects/{p}/locations/-", 100_000, None).get("nodes", [])
    ]
    by_project = {listing.project: listing for listing in listings}

    def judge() -> int:
        idle = 0
        for node in nodes:
            facts = facts_of_node(node)
            usage = by_project[node.project].usage_of(facts.key)
            idle += idle_verdict(usage, facts, 2.0, 180, 0, DEFAULT_EXEMPT_LABELS, now).idle
        return idle

    (_, seconds), idle = cpu(judge)
    return len(nodes), seconds, idle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fleet", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    clock = FakeClock()
    emulator = Emulator(clock=clock, op_seconds=0, fleet=args.fleet, projects=args.projects)
    clock.advance(26 * 3600)  # a day of history for every seeded TPU
    server = serve(emulator)
    rows: list[list[object]] = []
    listings: list[Any] = []
    for case in CASES:
        row, listings = measure(case, emulator, server.url, clock(), args.repeat)
        rows.append(row)
    judged, seconds, idle = verdicts(emulator, listings, clock())
    server.close()
    projects = len(emulator.stats_json()["projects"])
    print(f"{args.fleet} TPUs in {projects} projects, {args.repeat} runs each (medians)\n")
    print(table(HEADERS, rows))
    print(f"\nidle verdicts for {judged} TPUs: {seconds:.3f} s CPU, {idle} idle")


if __name__ == "__main__":
    main()
