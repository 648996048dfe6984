"""Profile one steady watcher tick (nothing changed since the last one) with pyinstrument.

Run: .venv/bin/python bench/watch_profile.py [--nodes 10000] [--projects 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyinstrument import Profiler

from bench.common import start_emulator
from bench.watch_world import world
from bot.usecases import watch, watch_fleet
from tpu_emulator.catalog import project_names


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument(
        "--after", action="store_true", help="the leader's Watcher (memory); else watch.poll"
    )
    parser.add_argument("--workers", type=int, help="projects listed at once (1: all in view)")
    args = parser.parse_args()
    if args.workers:
        watch_fleet.LIST_WORKERS = args.workers
    emu = start_emulator("--fleet", str(args.nodes), "--projects", str(args.projects), "--clean")
    try:
        deps = world(emu.url, project_names(args.projects), tempfile.mktemp(suffix=".db"))
        now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
        watcher = watch.Watcher(deps) if args.after else None
        poll = watcher.poll if watcher else (lambda at: watch.poll(deps, at))
        poll(now)  # the first tick: every node appears
        poll(now + timedelta(seconds=60))
        profiler = Profiler(interval=0.001)
        profiler.start()
        poll(now + timedelta(seconds=120))
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
