"""Ack latency against its floor (issue 22): a real `tpu-bot serve` process beside a bare app
that only verifies Slack's signature (bench/ack_bare.py, waitress, the same threads), in one run.

Run: .venv/bin/python bench/ack_bench.py [--nodes 30] [--bursts 50,200] [--rate 10]
     [--seconds 60] [--clicks 3] [--repeat 2] [--baseline DIR] [--no-socket] [--no-http]
     (`--rate 0`: bursts only)

Processes: the emulator (`tpu-bot emulator --fleet N --projects 1 --clean`), the bot, the bare
app, the load client (bench/ack_client.py: signs each request as it sends it, new connection
each, as Slack does) and this one, which runs localslack (it takes the answers through
response_url and stamps each on arrival). Loads: bursts of `/tpu list` from as many distinct
users at once; then `--rate`/s for `--seconds` s, every `--clicks`-th request a click of a
listing's next-page button. Per run: ack p50/p99/max, their ratio to the bare app's in the same
run, acks over 3 s, requests refused, and the seconds from the first request until every answer
had reached localslack. `--baseline DIR` adds a bot run from another checkout (e.g.
`git archive COMMIT bot | tar -x -C DIR`), same environment. Socket Mode: localslack hands each
envelope to the one connected client and times it until the ack comes back over the socket; the
floor is slack_sdk's Socket Mode client acking at once (bench/ack_bare_socket.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.ack_world import Served, World, fire, users
from bench.common import percentile, table
from devstack.waiting import eventually

Sample = tuple[float, int, str]  # (seconds to the ack, status, body)
HEADERS = [
    "mode", "target", "load", "run", "requests", "p50 ms", "p99 ms", "max ms", "p50/floor",
    "p99/floor", "over 3 s", "refused", "all answered s",
]  # fmt: skip


def refused(body: str) -> bool:
    return "Try again in" in body or "nothing was run" in body


def answered(world: World, before: int, expected: int, started: float) -> float:
    """Seconds from `started` until `expected` answers had arrived through response_url."""
    calls = world.slack.workspace.calls_to
    eventually(lambda: len(calls("response_url")) - before >= expected, 600, "every answer", 0.05)
    arrivals = sorted(c.at for c in calls("response_url")[before:])
    return arrivals[expected - 1] - started if expected else 0.0


def http_load(world: World, load: str, args: argparse.Namespace) -> list[tuple[float, str]]:
    """The requests of a load: (seconds after start, form body)."""
    if load.startswith("burst"):
        size = int(load.split()[-1])
        return [(0.0, world.form(world.command(u))) for u in users(size)]
    count = round(args.rate * args.seconds)
    people = users(args.people)
    plan = []
    for i in range(count):
        user = people[i % len(people)]
        payload = world.click(user) if i % args.clicks == args.clicks - 1 else world.command(user)
        plan.append((i / args.rate, world.form(payload)))
    return plan


def http_run(world: World, target: Served, load: str, args: argparse.Namespace) -> dict[str, Any]:
    plan = http_load(world, load, args)
    before = len(world.slack.workspace.calls_to("response_url"))
    out = fire(target.url, plan, min(len(plan), 200), world.tmp)
    samples: list[Sample] = [(r[1], r[2], r[3]) for r in out["results"]]
    result: dict[str, Any] = {"samples": samples, "answered": None}
    if target.name != "bare":
        expected = sum(1 for _, status, body in samples if status == 200 and not refused(body))
        result["answered"] = answered(world, before, expected, out["started"])
    return result


def socket_run(world: World, size: int, bot: bool) -> dict[str, Any]:
    """A burst of `size` slash commands over Socket Mode, each timed envelope to ack."""
    before = len(world.slack.workspace.calls_to("response_url"))
    payloads = [world.command(u) for u in users(size)]
    started = time.time()
    with ThreadPoolExecutor(size) as pool:
        deliveries = list(
            pool.map(lambda p: world.slack.hub.deliver("slash_commands", p, 10.0), payloads)
        )
    samples: list[Sample] = [(d.seconds, d.status, d.body) for d in deliveries]
    result: dict[str, Any] = {"samples": samples, "answered": None}
    if bot:
        expected = sum(1 for _, status, body in samples if status == 200 and not refused(body))
        result["answered"] = answered(world, before, expected, started)
    return result


def row(
    mode: str, target: str, load: str, run: int, result: dict[str, Any], floor: dict[str, Any]
) -> list[Any]:
    seconds = [s for s, _, _ in result["samples"]]
    base = [s for s, _, _ in floor["samples"]]
    p50, p99 = percentile(seconds, 50), percentile(seconds, 99)
    over = sum(1 for s, status, _ in result["samples"] if s > 3.0 or status != 200)
    answered_s = result["answered"]
    return [
        mode,
        target,
        load,
        run,
        len(seconds),
        p50 * 1000,
        p99 * 1000,
        max(seconds) * 1000,
        p50 / percentile(base, 50),
        p99 / percentile(base, 99),
        over,
        sum(1 for _, _, body in result["samples"] if refused(body)),
        "-" if answered_s is None else round(answered_s, 2),
    ]


def http_section(world: World, args: argparse.Namespace) -> list[list[Any]]:
    loads = [f"burst {n}" for n in args.bursts]
    if args.rate > 0:
        loads.append(f"{args.rate:g}/s for {args.seconds:g} s")
    bots = {"bot": world.bot("bot")}
    if args.baseline:
        bots["baseline"] = world.bot("baseline", source=args.baseline)
    bare = world.bare()
    rows = []
    try:
        for run in range(1, args.repeat + 1):
            for load in loads:
                floor = http_run(world, bare, load, args)
                rows.append(row("http", "bare", load, run, floor, floor))
                for name, bot in bots.items():
                    rows.append(
                        row("http", name, load, run, http_run(world, bot, load, args), floor)
                    )
                print(table(HEADERS, rows[-1 - len(bots) :]), flush=True)
    finally:
        bare.stop()
        for bot in bots.values():
            bot.stop()
    return rows


def socket_section(world: World, args: argparse.Namespace) -> list[list[Any]]:
    rows = []
    for run in range(1, args.repeat + 1):
        for size in args.bursts:
            load = f"burst {size}"
            floors: dict[str, Any] = {}
            targets: dict[str, Callable[[], Served]] = {
                "bare": world.bare_socket,
                "bot": lambda: world.bot("bot-socket", socket_mode=True),
            }
            if args.baseline:
                targets["baseline"] = lambda: world.bot(
                    "baseline-socket", socket_mode=True, source=args.baseline
                )
            for name, start in targets.items():
                served = start()
                try:
                    socket_run(world, 5, name != "bare")  # a warm-up, not counted
                    result = socket_run(world, size, name != "bare")
                finally:
                    world.stop_socket(served)
                floors.setdefault("floor", result)
                rows.append(row("socket", name, load, run, result, floors["floor"]))
            print(table(HEADERS, rows[-len(targets) :]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=30)
    parser.add_argument("--bursts", default="50,200")
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clicks", type=int, default=3, help="Every n-th steady request clicks.")
    parser.add_argument(
        "--people", type=int, default=200, help="Distinct users of the steady load."
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--baseline", default=None, help="Another checkout of bot/ to compare.")
    parser.add_argument("--no-socket", action="store_true")
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    args.bursts = [int(n) for n in args.bursts.split(",")]
    world = World.start(args.nodes, max([*args.bursts, args.people]))
    rows: list[list[Any]] = []
    try:
        if not args.no_http:
            rows += http_section(world, args)
        if not args.no_socket:
            rows += socket_section(world, args)
    finally:
        world.close()
    print(
        f"\n/tpu list acks, {args.nodes} nodes, {os.cpu_count()} cores; floor: the bare app in "
        "the same run (HTTP: signature check on waitress, same threads; Socket Mode: slack_sdk's "
        "client acking at once)\n"
    )
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
