"""A flood of commands against the watcher (issue 18): does a loop of listings from a few users
slow the acks, or the watcher's polling and alerts?

Run: .venv/bin/python bench/ack_flood.py [--users 20] [--per-minute 1000] [--minutes 2]
     [--poll 10] [--injections 6] [--nodes 30]

A real `tpu-bot serve` (HTTP, default `limits:`, `watch.poll_seconds` = --poll) against the
emulator (`--nodes` in one project), localslack in this process. Two phases of the same length,
quiet then flooded: in each, --injections preemptions of READY spot nodes, one at a random point
of each equal slot (the same points in both phases); the
detection time is from the inject request's return to the first Slack post or edit naming the
node (localslack's arrival stamp). The flood: --users users sending `/tpu list` round robin,
--per-minute in all, signed, through the load client process (bench/ack_client.py). The
watcher's requests per tick: the emulator's count of TPU API requests over the phase (Cloud
Monitoring's, which cards read, left out), less the requests of
the listings the bot ran for users (each one's cost measured first, between two ticks), divided
by the ticks in the phase (`tpubot_ticks_total{job="poll_nodes",outcome="ok"}`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.ack_bench import refused
from bench.ack_world import PROJECT, Served, World, fire, users
from bench.common import median, percentile, post_json, requests_served, rss_mb, table
from bench.watch_detect import spot_victims
from devstack.waiting import eventually

TICKS = ("tpubot_ticks_total", 'job="poll_nodes",outcome="ok"')


@dataclass
class Phase:
    name: str
    detections: list[float] = field(default_factory=list)
    ticks: float = 0.0
    requests: int = 0
    listings: int = 0  # the users' listings the bot ran in the phase (that called the API)
    over_budget: int = 0  # listings answered "try again": the commands' API budget was spent
    acks: list[tuple[float, int, str]] = field(default_factory=list)

    def per_tick(self, cost: float) -> float:
        return (self.requests - self.listings * cost) / self.ticks if self.ticks else float("nan")


def health(bot: Served) -> dict[str, Any]:
    return dict(json.loads(bot.get("/healthz")))


def last_poll(bot: Served) -> str | None:
    return health(bot).get("last_poll")


def after_a_tick(bot: Served) -> str:
    """Wait for the next tick to be recorded; its last_poll."""
    first = last_poll(bot)
    return str(eventually(lambda: (p := last_poll(bot)) != first and p, 120, "a tick", 0.05))


def over_budget(world: World, since: int) -> int:
    """Answers (after the first `since`) that said the commands' API budget was spent."""
    calls = world.slack.workspace.calls_to("response_url")[since:]
    return sum(1 for call in calls if BUDGET_WORDS in json.dumps(call.args))


BUDGET_WORDS = "budget of TPU API requests"


def answers(world: World) -> int:
    return len(world.slack.workspace.calls_to("response_url"))


def listing_cost(world: World, bot: Served) -> float:
    """TPU API requests per `/tpu list` (its cards' Monitoring reads apart), measured between
    two ticks (tried until none fell in the window)."""
    for _ in range(5):
        mark = after_a_tick(bot)
        before, seen = requests_served(world.emulator.url, tpu_only=True), answers(world)
        plan = [(0.0, world.form(world.command(u))) for u in users(5)]
        fire(bot.url, plan, 5, world.tmp)
        eventually(lambda s=seen: answers(world) - s >= 5, 60, "five answers", 0.05)
        spent = requests_served(world.emulator.url, tpu_only=True) - before
        if last_poll(bot) == mark:
            return spent / 5
    raise RuntimeError("a tick fell in every measurement window")


def named(world: World, node: str, since: float) -> float | None:
    short = node.rsplit("/", 1)[-1]
    for call in world.slack.workspace.calls:
        sent = call.ok and call.method in ("chat.postMessage", "chat.update")
        content = str(call.args.get("text", "")) + str(call.args.get("blocks", ""))
        if sent and call.at >= since and short in content:
            return call.at
    return None


def inject_all(world: World, victims: list[str], seconds: float, phase: Phase) -> None:
    """Preempt `victims` one in each equal slot of `seconds`, at a random point of it (the same
    points in every phase: a fixed seed), so they land at every phase of the poll; wait for each
    alert."""
    gap, rng = seconds / len(victims), random.Random(7)
    start, pace, sent = time.monotonic(), threading.Event(), []
    for i, node in enumerate(victims):
        at = start + (i + rng.uniform(0.1, 0.9)) * gap
        pace.wait(max(0.0, at - time.monotonic()))  # the schedule
        post_json(
            world.emulator.url + f"/emulator/v1/{node}:inject", {"state": "PREEMPTED", "health": ""}
        )
        sent.append((node, time.time()))
    for node, at in sent:
        found = eventually(lambda n=node, a=at: named(world, n, a), 120, f"alert for {node}")
        phase.detections.append(found - at)


def run_phase(
    world: World, bot: Served, name: str, victims: list[str], args: argparse.Namespace
) -> Phase:
    phase = Phase(name)
    seconds = args.minutes * 60
    ticks, requests = bot.metric(*TICKS), requests_served(world.emulator.url, tpu_only=True)
    listed = answers(world)
    flood: dict[str, Any] = {}
    sender = None
    if name == "flood":
        people, count = users(args.users), round(args.per_minute * args.minutes)
        plan = [
            (i * 60 / args.per_minute, world.form(world.command(people[i % len(people)])))
            for i in range(count)
        ]
        sender = threading.Thread(
            target=lambda: flood.update(fire(bot.url, plan, 64, world.tmp)), name="flood"
        )
        sender.start()
    started = time.monotonic()
    inject_all(world, victims, seconds, phase)
    pause = threading.Event()
    pause.wait(max(0.0, started + seconds - time.monotonic()))  # the phase's length
    if sender is not None:
        sender.join()
        phase.acks = [(r[1], r[2], r[3]) for r in flood["results"]]
        accepted = sum(1 for _, status, body in phase.acks if status == 200 and not refused(body))
        eventually(lambda: answers(world) - listed >= accepted, 600, "the accepted answered")
        # Past the commands' own budget of TPU API requests (gcp.command_requests_per_minute),
        # a listing is answered "try again" without calling the API: it costs nothing.
        phase.over_budget = over_budget(world, listed)
        phase.listings = accepted - phase.over_budget
    phase.ticks = bot.metric(*TICKS) - ticks
    phase.requests = requests_served(world.emulator.url, tpu_only=True) - requests
    return phase


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-minute", type=float, default=1000)
    parser.add_argument("--minutes", type=float, default=2)
    parser.add_argument("--poll", type=int, default=10)
    parser.add_argument("--injections", type=int, default=6)
    parser.add_argument("--nodes", type=int, default=30)
    args = parser.parse_args()
    world = World.start(args.nodes, max(args.users, 5))
    victims = spot_victims(world.emulator.url, [PROJECT])[PROJECT]
    assert len(victims) >= 2 * args.injections, f"only {len(victims)} spot nodes"
    bot = world.bot("flood", config={"watch": {"poll_seconds": args.poll}})
    try:
        after_a_tick(bot)
        cost = listing_cost(world, bot)
        quiet = run_phase(world, bot, "quiet", victims[: args.injections], args)
        flood = run_phase(world, bot, "flood", victims[args.injections :][: args.injections], args)
        rss = (rss_mb(bot.popen.pid), rss_mb(int(health(bot)["work_process"])))
    finally:
        bot.stop()
        world.close()
    acks = [s for s, _, _ in flood.acks]
    late = sum(1 for s, status, _ in flood.acks if s > 3.0 or status != 200)
    with_retry = sum(1 for _, _, body in flood.acks if "Try again in" in body)
    print(
        f"\nFlood: {args.users} users, {args.per_minute:g} `/tpu list` a minute for "
        f"{args.minutes:g} min, signed HTTP; watcher polls every {args.poll} s; "
        f"{args.nodes} nodes; one listing = {cost:g} API requests; RSS: bot {rss[0]:.0f} MB, "
        f"work process {rss[1]:.0f} MB\n"
    )
    print(
        table(
            ["measure", "quiet", "flood"],
            [
                ["commands sent", 0, len(flood.acks)],
                ["acked within 3 s", "-", len(flood.acks) - late],
                ["ack p50 / p99 ms", "-", f"{median(acks) * 1000:.0f} / "
                 f"{percentile(acks, 99) * 1000:.0f}"],
                ["refused with a retry time", "-", with_retry],
                ["listings run (answered)", 0, flood.listings + flood.over_budget],
                ["of which: API budget spent, try again", 0, flood.over_budget],
                ["watcher ticks", quiet.ticks, flood.ticks],
                ["watcher requests per tick", quiet.per_tick(cost), flood.per_tick(cost)],
                ["detection s, median", median(quiet.detections), median(flood.detections)],
                ["detection s, max", max(quiet.detections), max(flood.detections)],
            ],
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
