"""The ack bench's load generator, in a process of its own (so the servers it times and
localslack, which takes the answers, do not share its interpreter).

Run by bench/ack_bench.py: .venv/bin/python bench/ack_client.py PLAN.json
PLAN: {"url", "secret", "threads", "requests": [{"at": seconds after start, "body": form}]}.
Each request is signed (slack_sdk) when it is sent, on a new connection, as Slack does.
Prints one JSON object: {"started": epoch, "results": [[at, seconds, status, body], ...]}.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_sdk.signature import SignatureVerifier

Result = tuple[float, float, int, str]


def send(url: str, verifier: SignatureVerifier, body: str) -> tuple[float, int, str]:
    stamp = str(int(time.time()))
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=body) or "",
        },
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return time.perf_counter() - started, response.status, text
    except urllib.error.HTTPError as exc:
        return time.perf_counter() - started, exc.code, exc.read().decode()
    except OSError as exc:
        return time.perf_counter() - started, 0, exc.__class__.__name__


def run(plan: dict[str, Any]) -> dict[str, Any]:
    verifier = SignatureVerifier(plan["secret"])
    requests: list[dict[str, Any]] = plan["requests"]
    results: list[Result | None] = [None] * len(requests)
    pace = threading.Event()

    def one(index: int, at: float, origin: float) -> None:
        pace.wait(max(0.0, origin + at - time.monotonic()))  # the schedule, not a sync
        seconds, status, body = send(plan["url"], verifier, requests[index]["body"])
        results[index] = (at, seconds, status, body[:300])

    threads = min(plan.get("threads", 64), len(requests)) or 1
    with ThreadPoolExecutor(threads) as pool:
        # Give every thread time to exist before the first request is due.
        origin = time.monotonic() + 0.5
        started = time.time() + 0.5
        for index, request in enumerate(requests):
            pool.submit(one, index, float(request["at"]), origin)
    return {"started": started, "results": results}


def main() -> None:
    with open(sys.argv[1]) as plan:
        print(json.dumps(run(json.load(plan))))


if __name__ == "__main__":
    main()
