"""Detection to Slack, end to end in real time: a node is preempted in the emulator; how long until
a Slack message naming it reaches localslack?

Run: .venv/bin/python bench/watch_slack.py [--nodes 10000] [--projects 20] [--poll 10]
     [--injections 40] [--seed 13] [--min-gap 0] [--max-gap POLL] [--verbose]

Three processes: the emulator (`tpu-bot emulator --fleet N --projects P --clean`), the bot (`tpu-bot
serve`, HTTP on port 0, SQLite, `watch.poll_seconds` = --poll, no request budget), and this one,
which runs LocalSlack and injects. After the bot's first two ticks and an empty outbox, it preempts
one READY spot or preemptible node at a time (each a different node, projects and zones taken in
turn so no storm forms), with uniform random gaps in [0, poll] (mean poll/2: injections land at
every phase of the poll cycle; --min-gap/--max-gap change that, e.g. [poll + 2, 2 poll + 2]
puts at most one in a tick, so the drainer's pacing of one message a second per channel never
queues one behind another). Detection = the time localslack recorded the first accepted
chat.postMessage or chat.update whose text or blocks name the node's short id, less the time the
inject request returned; both are time.time() of this machine, and localslack stamps each call when
it arrives (no polling of its store). Each detection is split in three: the wait for the start of
the tick that found it (/healthz `last_poll`, read every 0.2 s, is each tick's start by the bot's
clock), that tick's listing and diff up to its decision on the node (the bot's INFO log line
"watch: NODE preempted -> open", timestamped by this machine's clock, 1 ms), and the decision to
Slack (commit, the drainer woken, its queue and pacing, the send). The floor is the poll
interval: an event can land just after its project was listed. A storm's digest counts when it
names the node (its root names the first 40 members; a member past those would be matched by a
later message of the digest's thread instead); the first message's kind is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import Process, median, percentile, post_json, start_emulator, table
from bench.watch_bench import bot_env
from bench.watch_detect import spot_victims
from devstack.waiting import eventually
from localslack import LocalSlack
from tpu_emulator.catalog import project_names

SENDS = ("chat.postMessage", "chat.update")


@dataclass
class Injection:
    """One preemption: the node, when the inject request was sent and when it returned."""

    node: str
    sent: float
    returned: float
    arrived: float | None = None  # localslack's time of the first message naming the node
    how: str = ""  # post, reply or update; digest if a storm took it
    decided: float | None = None  # the bot's log line deciding on it (after the listing)
    tick: float | None = None  # start of the tick that decided (the bot's clock, /healthz)

    @property
    def short(self) -> str:
        return self.node.rsplit("/", 1)[-1]

    @property
    def zone(self) -> str:
        return self.node.split("/")[3]

    @property
    def latency(self) -> float:
        return float("inf") if self.arrived is None else self.arrived - self.returned

    def parts(self) -> tuple[float, float, float] | None:
        """(wait for the tick that found it, that tick's start to its decision, decision to
        Slack); a tick already under way when the inject returned waits 0."""
        if self.arrived is None or self.decided is None or self.tick is None:
            return None
        start = max(self.tick, self.returned)
        return start - self.returned, self.decided - start, self.arrived - self.decided


class Bot:
    """`tpu-bot serve` in its own process; its log in a file; /healthz watched for tick starts."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.log_path = tmp / "bot.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bot", "--log-level", "INFO", "serve", "--host", "127.0.0.1"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url: str = eventually(self._served_url, 60, "bot serving")
        self.ticks: list[float] = []  # distinct last_poll values, as epoch seconds
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="healthz", daemon=True)
        self._watcher.start()

    def _served_url(self) -> str | None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"the bot exited: {self.log_path.read_text()[-2000:]}")
        match = re.search(r"health on (http://[\d.]+:\d+)/healthz", self.log_path.read_text())
        return match.group(1) if match else None

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return bytes(response.read())

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            try:
                last = json.loads(self.get("/healthz")).get("last_poll")
            except OSError:
                continue
            if last:
                at = datetime.fromisoformat(last).timestamp()
                if not self.ticks or at != self.ticks[-1]:
                    self.ticks.append(at)

    def metric(self, name: str, labels: str = "") -> float:
        """One sample of /metrics (the first whose name and labels match)."""
        pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*{re.escape(labels)}[^}}]*\}})? (\S+)$")
        for line in self.get("/metrics").decode().splitlines():
            match = pattern.match(line)
            if match:
                return float(match.group(2))
        raise KeyError(name)

    def stop(self) -> None:
        self._stop.set()
        self._watcher.join(timeout=5)
        self.popen.terminate()
        try:
            self.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
        self._log.close()


def start_bot(tmp: Path, emu: Process, slack: LocalSlack, projects: list[str], poll: int) -> Bot:
    """The bot on a fixed poll of `poll` seconds (no request budget), HTTP on a free port."""
    env = bot_env(tmp, emu.url, slack, projects)
    config = yaml.safe_load(Path(env["TPUBOT_CONFIG"]).read_text())
    config["watch"] = {"poll_seconds": poll, "storm_threshold": 5}
    Path(env["TPUBOT_CONFIG"]).write_text(yaml.safe_dump(config))
    env.pop("SLACK_APP_TOKEN", None)  # HTTP mode, not Socket Mode
    env["PORT"] = "0"
    return Bot(tmp, env)


def settle(bot: Bot, poll: int) -> None:
    """Wait until the bot has ticked twice (the first tick finds the seeded fleet) and its outbox
    is empty."""
    eventually(lambda: len(bot.ticks) >= 2, 6 * poll + 120, "two ticks")
    eventually(lambda: bot.metric("tpubot_outbox_depth") == 0, 600, "outbox drained", 0.2)


def plan(victims: dict[str, list[str]], count: int, rng: random.Random) -> list[str]:
    """`count` distinct victims: projects in turn, and no zone twice in a row."""
    pools = {p: rng.sample(names, len(names)) for p, names in victims.items() if names}
    order = sorted(pools)
    chosen: list[str] = []
    last_zone = ""
    i = 0
    while len(chosen) < count:
        if not any(pools.values()):
            raise RuntimeError(f"only {len(chosen)} victims available")
        pool = pools[order[i % len(order)]]
        i += 1
        pick = next((n for n in pool if n.split("/")[3] != last_zone), None)
        if pick is None:
            continue
        pool.remove(pick)
        chosen.append(pick)
        last_zone = pick.split("/")[3]
    return chosen


def inject(
    emu: Process, victims: list[str], gaps: tuple[float, float], rng: random.Random
) -> list[Injection]:
    """Preempt each victim in turn, with uniform random gaps in `gaps` between them (the load
    schedule: sleeping there is the point)."""
    done = []
    for node in victims:
        time.sleep(rng.uniform(*gaps))
        sent = time.time()
        post_json(emu.url + f"/emulator/v1/{node}:inject", {"state": "PREEMPTED", "health": ""})
        done.append(Injection(node, sent, time.time()))
    return done


def _sends(slack: LocalSlack) -> list[tuple[float, str, str]]:
    """(arrival time, kind, text and blocks) of every accepted post and update, in order."""
    found = []
    for method in SENDS:
        for call in slack.workspace.calls_to(method, ok=True):
            blocks = call.args.get("blocks") or []
            words = str(call.args.get("text") or "") + " " + json.dumps(blocks)
            kind = "update" if method == "chat.update" else "post"
            if method == "chat.postMessage" and call.thread_ts:
                kind = "reply"
            if "nodes in trouble in" in words:
                kind = "digest"
            found.append((call.at, kind, words))
    return sorted(found, key=lambda s: s[0])


def decisions(log: str) -> dict[str, float]:
    """node name -> time of the bot's first watch decision on it (its INFO log line, written
    after the tick's listing and diff; local time of this machine, as time.time())."""
    found: dict[str, float] = {}
    for line in log.splitlines():
        hit = _DECISION.match(line)
        if hit and hit.group(2) not in found:
            stamp = datetime.strptime(hit.group(1), "%Y-%m-%d %H:%M:%S,%f")
            found[hit.group(2)] = stamp.timestamp()
    return found


_DECISION = re.compile(r"^(\S+ \S+) INFO bot\.usecases watch: (\S+) preempted -> ")


def match(injections: list[Injection], slack: LocalSlack, bot: Bot) -> int:
    """Fill in each injection's first message, the bot's decision and the tick that made it;
    how many messages arrived after the first injection."""
    sends = [s for s in _sends(slack) if s[0] >= injections[0].sent]
    decided = decisions(bot.log_path.read_text())
    for inj in injections:
        inj.decided = decided.get(inj.node)
        if inj.decided is not None:
            before = [t for t in bot.ticks if t <= inj.decided]
            inj.tick = before[-1] if before else None
        pattern = re.compile(rf"(?<![\w-]){re.escape(inj.short)}(?![\w-])")
        for at, kind, words in sends:
            if at >= inj.sent and pattern.search(words):
                inj.arrived, inj.how = at, kind
                break
    return len(sends)


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    emu = start_emulator("--fleet", str(args.nodes), "--projects", str(args.projects), "--clean")
    slack = LocalSlack().start()
    projects = project_names(args.projects)
    bot = None
    try:
        victims = plan(spot_victims(emu.url, projects), args.injections, rng)
        bot = start_bot(Path(tempfile.mkdtemp()), emu, slack, projects, args.poll)
        settle(bot, args.poll)
        before = len(_sends(slack))
        gaps = (args.min_gap, args.poll if args.max_gap is None else args.max_gap)
        injections = inject(emu, victims, gaps, rng)
        last = injections[-1].returned
        running = bot

        def all_found() -> bool:
            match(injections, slack, running)
            return all(i.arrived is not None for i in injections)

        eventually(all_found, 3 * args.poll + 60, "every detection", 0.5)
        # /healthz shows a tick's start once it committed: wait for one after the last message,
        # so every deciding tick is known.
        final = max(i.arrived or 0 for i in injections)
        eventually(lambda: bot.ticks[-1] > final, 2 * args.poll + 30, "a tick after the last")
        messages = match(injections, slack, bot)
        ticks = [t for t in bot.ticks if t >= injections[0].sent - args.poll]
        tick_count = bot.metric("tpubot_tick_seconds_count", 'job="poll_nodes"')
        tick_sum = bot.metric("tpubot_tick_seconds_sum", 'job="poll_nodes"')
        return {
            "injections": injections,
            "ticks": ticks,
            "messages": messages,
            "initial_messages": before,
            "tick_mean": tick_sum / tick_count if tick_count else float("nan"),
            "tick_count": tick_count,
            "span": last - injections[0].sent,
            "log": str(bot.log_path),
        }
    finally:
        if bot is not None:
            bot.stop()
        slack.close()
        emu.stop()


def _stats(label: str, values: list[float]) -> list[object]:
    return [label, median(values), percentile(values, 99), max(values) if values else "-"]


def report(args: argparse.Namespace, result: dict[str, Any]) -> str:
    injections: list[Injection] = result["injections"]
    latencies = [i.latency for i in injections]
    parts = [p for p in (i.parts() for i in injections) if p is not None]
    p99 = percentile(latencies, 99)
    target = args.poll + 1.0
    row = [
        f"{args.nodes} in {args.projects}",
        args.poll,
        len(injections),
        sum(1 for i in injections if i.arrived is not None),
        percentile(latencies, 50),
        p99,
        max(latencies),
        p99 - args.poll,
        target,
        "met" if p99 < target else "NOT met",
    ]
    headers = ["nodes in projects", "poll s (floor)", "injected", "detected", "p50 s", "p99 s"]
    headers += ["max s", "p99 - poll s", "target s", "p99 < poll + 1 s"]
    split = table(
        ["part", "p50 s", "p99 s", "max s"],
        [
            _stats("inject -> start of the tick that found it", [p[0] for p in parts]),
            _stats("tick start -> decision (listing, diff)", [p[1] for p in parts]),
            _stats("decision -> Slack (commit, drainer, send)", [p[2] for p in parts]),
        ],
    )
    kinds: dict[str, int] = {}
    for i in injections:
        kinds[i.how or "none"] = kinds.get(i.how or "none", 0) + 1
    per_tick: dict[float, int] = {}
    for i in injections:
        if i.tick is not None:
            per_tick[i.tick] = per_tick.get(i.tick, 0) + 1
    gaps = [b - a for a, b in zip(result["ticks"], result["ticks"][1:], strict=False)]
    lines = [
        f"Detection to Slack, {args.nodes} nodes in {args.projects} projects, poll {args.poll} s, "
        f"{len(injections)} preemptions over {result['span']:.0f} s (gaps uniform in "
        f"[{args.min_gap:g}, {args.poll if args.max_gap is None else args.max_gap:g}] s), "
        f"{os.cpu_count()} cores\n",
        table(headers, [row]),
        "",
        split,
        "",
        f"First message naming the node, by kind: {kinds}. Messages sent during the run: "
        f"{result['messages']} (before it: {result['initial_messages']}). Preemptions found per "
        f"tick: {sorted(per_tick.values(), reverse=True)}. Bot poll ticks: "
        f"{result['tick_count']:.0f}, mean {result['tick_mean']:.3f} s (/metrics); tick starts "
        f"{len(result['ticks'])}, interval median {median(gaps):.3f} s, max "
        f"{max(gaps, default=float('nan')):.3f} s.",
    ]
    if args.verbose:
        rows = []
        for i in injections:
            p = i.parts()
            rows.append(
                [
                    i.short,
                    i.zone,
                    f"{i.returned - injections[0].returned:.2f}",
                    i.latency,
                    *(p if p is not None else ("", "", "")),
                    i.how,
                ]
            )
        headers = ["node", "zone", "at s", "latency s", "wait s", "listing s", "send s", "first"]
        lines += ["", table(headers, rows)]
    lines.append(f"\nBot log: {result['log']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--poll", type=int, default=10, help="watch.poll_seconds (min 5)")
    parser.add_argument("--injections", type=int, default=40)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--min-gap", type=float, default=0.0, help="s between injections")
    parser.add_argument("--max-gap", type=float, default=None, help="s (default: --poll)")
    parser.add_argument("--verbose", action="store_true", help="one row per injection")
    args = parser.parse_args()
    print(report(args, run(args)))


if __name__ == "__main__":
    main()
