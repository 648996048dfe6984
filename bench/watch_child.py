"""The whole bot, wired by `bot.app.build` (no server, no scheduler), ticking on request.

Run by bench/watch_bench.py with the bot's environment; reads a line per tick on stdin and
answers one JSON line: the tick's wall and CPU seconds, the process's resident memory, what the
tick listed. So the bot's memory and CPU are measured alone, in its own process.
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import rss_mb
from bot.app import build
from bot.config import load_settings


def main() -> None:
    bot = build(load_settings(dict(os.environ)))
    print(json.dumps({"ready": True, "rss": rss_mb(os.getpid())}), flush=True)
    for _line in sys.stdin:
        wall, cpu = time.perf_counter(), time.process_time()
        report = bot.jobs.run("poll_nodes")
        answer = {
            "wall": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu,
            "rss": rss_mb(os.getpid()),
            "nodes": report.nodes if report else 0,
            "changed": getattr(report, "changed", -1) if report else 0,
            "failed": list(report.failed_projects) if report else [],
        }
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
