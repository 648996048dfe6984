"""Where an ack's time goes: py-spy samples a `tpu-bot serve` process (HTTP mode) while bursts of
signed `/tpu list` commands from distinct users arrive.

Run: .venv/bin/pip install py-spy   (a tool, not a dependency)
     .venv/bin/python bench/ack_profile.py [--burst 200] [--rounds 5] [--nodes 30]
       [--out /tmp/ack-profile] [--source DIR]

Writes py-spy's raw collapsed stacks (every thread, idle included) to OUT.txt and prints, per
thread kind (waitress' request threads, the work pool, the rest), the share of samples in the
functions that matter. `--source` profiles another checkout of the bot (a baseline).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.ack_world import World, fire, users
from devstack.waiting import eventually


def summarize(collapsed: Path, top: int) -> str:
    """Samples per thread kind, and the top frames (self and inclusive) in request threads."""
    kinds: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread = frames[0]
        kind = (
            "waitress request thread"
            if "waitress-" in thread
            else "work pool"
            if "tpu-bot-work" in thread
            else thread.split("(")[0][:40]
        )
        kinds[kind] += int(count)
        if kind == "waitress request thread":
            for frame in set(frames[1:]):
                inclusive[frame] += int(count)
            leaf[frames[-1]] += int(count)
    lines = ["samples by thread:"]
    lines += [f"  {n:7d}  {k}" for k, n in kinds.most_common(12)]
    lines.append("request threads, inclusive:")
    lines += [f"  {n:7d}  {k}" for k, n in inclusive.most_common(top)]
    lines.append("request threads, self:")
    lines += [f"  {n:7d}  {k}" for k, n in leaf.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=30)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", default="/tmp/ack-profile")
    parser.add_argument("--source", default=None)
    parser.add_argument(
        "--gil", action="store_true", help="Sample only the thread holding the GIL."
    )
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    world = World.start(args.nodes, args.burst)
    bot = world.bot(source=args.source)
    out = Path(args.out + ".txt")
    try:
        record = subprocess.Popen(
            [spy, "record", "--pid", str(bot.popen.pid), "--format", "raw", "--threads",
             "--idle", "--rate", "250", "--output", str(out),
             *(["--gil"] if args.gil else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        sent = 0
        for _ in range(args.rounds):
            burst = [(0.0, world.form(world.command(u))) for u in users(args.burst)]
            fire(bot.url, burst, args.burst, world.tmp)
            sent += args.burst
            eventually(
                lambda n=sent: len(world.slack.workspace.calls_to("response_url")) >= n,
                300,
                "answers",
            )
        record.send_signal(signal.SIGINT)
        record.wait(timeout=60)
    finally:
        bot.stop()
        world.close()
    print(summarize(out, args.top))


if __name__ == "__main__":
    main()
