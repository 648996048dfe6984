"""Helpers shared by the benchmarks: start processes, read their memory, talk to the emulator's
admin API, print tables."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Process:
    popen: subprocess.Popen[str]
    url: str

    @property
    def rss_mb(self) -> float:
        return rss_mb(self.popen.pid)

    def stop(self) -> None:
        self.popen.terminate()
        self.popen.wait(timeout=10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def post_json(url: str, body: Any) -> None:
    """POST a JSON body (the emulator's admin calls: inject, faults)."""
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    urllib.request.urlopen(request, timeout=60).close()


def requests_served(url: str, *, tpu_only: bool = False) -> int:
    """Every API request the emulator answered so far (its admin calls are not counted);
    `tpu_only`: the Cloud TPU API's alone (not Cloud Monitoring's, which cards read)."""
    with urllib.request.urlopen(url + "/emulator/v1/stats", timeout=60) as response:
        counts = json.loads(response.read())["requests"]
    return sum(n for method, n in counts.items() if not tpu_only or not _monitoring(method))


def _monitoring(method: str) -> bool:
    return method.startswith("monitoring.")


def start_emulator(*args: str) -> Process:
    """`tpu-bot emulator` on a free port, in its own process (so its memory is its own)."""
    popen = subprocess.Popen(
        [sys.executable, "-m", "bot", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert popen.stdout is not None
    line = popen.stdout.readline()
    match = re.search(r"http://[\d.]+:\d+", line)
    if not match:
        popen.kill()
        raise RuntimeError(f"emulator did not start: {line!r}")
    return Process(popen, match.group(0))


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)
