"""Emulator capacity: nodes.list / nodes.get throughput under concurrent clients, and its memory.

Run: .venv/bin/python bench/emulator_bench.py [--nodes 10000] [--clients 16] [--seconds 5]

The naive baseline, in the same run, reads the same fleet one `nodes.get` per node instead of a
paginated wildcard `nodes.list`.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import median, start_emulator, table
from bot.tpu.client import TpuClient


def throughput(clients: int, seconds: float, call) -> tuple[int, float]:
    """Calls completed by `clients` threads in `seconds` of wall time."""
    stop = time.monotonic() + seconds
    counts = [0] * clients

    def worker(i: int) -> None:
        while time.monotonic() < stop:
            call(i)
            counts[i] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--api",
        choices=("v1alpha1", "v2"),
        default="v1alpha1",
        help="v1alpha1: one project of TPU Nodes; v2: a mixed fleet of four projects, the TPU VM "
        "project (ml-infra) read through v2",
    )
    args = parser.parse_args()

    if args.api == "v1alpha1":
        # One project holding the whole fleet: one wildcard listing covers all of it.
        emu = start_emulator("--fleet", str(args.nodes), "--projects", "1")
        project = "ml-prod"
    else:
        # Nodes are dealt to the projects in turn: the fourth (ml-infra) holds TPU VMs.
        emu = start_emulator("--fleet", str(args.nodes * 4), "--projects", "4")
        project = "ml-infra"
    try:
        rss_idle = emu.rss_mb
        client = TpuClient(emu.url, default_api=args.api, retries=0, page_size=1000)
        small_pages = TpuClient(emu.url, default_api=args.api, retries=0, page_size=100)

        full, pages100 = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            listing = client.list_nodes(project)
            full.append(time.perf_counter() - t)
            t = time.perf_counter()
            small_pages.list_nodes(project)
            pages100.append(time.perf_counter() - t)
        names = [n.name for n in listing.nodes]
        assert len(names) == args.nodes, len(names)

        # Naive: the same fleet read node by node, 16 threads at once.
        t = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            got = list(pool.map(client.get_node, names))
        naive = time.perf_counter() - t
        assert len(got) == args.nodes
        rss_after = emu.rss_mb

        # The zone holding most of the listed nodes (v2 VMs live in other zones than TPU Nodes).
        zone_parent = Counter(n.split("/")[3] for n in names).most_common(1)[0][0]
        lists, list_wall = throughput(
            args.clients, args.seconds, lambda i: client.list_nodes(project, (zone_parent,))
        )
        gets, get_wall = throughput(
            args.clients, args.seconds, lambda i: client.get_node(names[(i * 7919) % len(names)])
        )
        rss_peak = emu.rss_mb
    finally:
        emu.stop()

    zone_nodes = sum(1 for n in names if f"/locations/{zone_parent}/" in n)
    print(
        f"Emulator ({args.api}) with {args.nodes} nodes listed, {args.clients} clients, "
        f"{os.cpu_count()} cores\n"
    )
    print(
        table(
            ["measure", "value", "unit"],
            [
                ["full wildcard listing, pageSize 1000 (median)", median(full), "s"],
                ["full wildcard listing, pageSize 100 (median)", median(pages100), "s"],
                [f"naive: {args.nodes} x nodes.get, {args.clients} threads", naive, "s"],
                ["naive / wildcard listing", naive / median(full), "x"],
                [
                    f"nodes.list of one zone ({zone_nodes} nodes), {args.clients} clients",
                    lists / list_wall,
                    "calls/s",
                ],
                [f"nodes.get, {args.clients} clients", gets / get_wall, "calls/s"],
                ["emulator RSS after seeding", rss_idle, "MB"],
                ["emulator RSS after the runs above", max(rss_after, rss_peak), "MB"],
            ],
        )
    )


if __name__ == "__main__":
    main()
