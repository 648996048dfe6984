"""Ack latency of `/tpu list`: the bot's waitress server against the old wsgiref one, and (with
`--naive`) against a handler that works before it acks.

Run: .venv/bin/python bench/ack_bench.py [--burst 50] [--rate 10] [--seconds 30] [--idle 300]
     [--latency-ms 2000] [--naive]

localslack sends signed slash commands and times the HTTP round trip (what Slack waits on, with a
3 s limit). Both servers serve the same wired bot (ack, then work on the pool, answer through
response_url) with the TPU API made slow by the emulator's latency fault. Loads: a burst of
concurrent commands; a steady rate; the burst again with idle half-open connections held open.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import percentile, table
from bot.app import Bot, build
from bot.config import load_settings
from bot.runtime.metrics import Metrics
from bot.runtime.web import WebApp
from bot.slack.chat import make_web_client
from bot.slack.listeners import build_app
from bot.tpu.client import TpuClient
from localslack import BOT_TOKEN, SIGNING_SECRET, LocalSlack
from tpu_emulator import Emulator
from tpu_emulator.http import serve_in_thread as serve_wsgiref
from tpu_emulator.server import serve

CONFIG: dict[str, Any] = {
    "projects": [{"id": "ml-prod", "sources": ["tpu"]}, {"id": "ml-research", "sources": ["tpu"]}],
    "channels": {"alerts": "C0ALERTS", "approvals": "C0ONCALL"},
}
Result = tuple[float, bool]  # (seconds to the HTTP answer, acked?)
THREADS: list[int] = []  # threads in this process at the end of each load


def naive_app(slack: LocalSlack, tpu: TpuClient) -> Any:
    """What many bots do: call the API, then ack with the result."""
    app = build_app(make_web_client(BOT_TOKEN, slack.api_url), SIGNING_SECRET)

    @app.command("/tpu")
    def handle(ack: Any, command: dict[str, Any]) -> None:
        total = sum(len(tpu.list_nodes(p["id"]).nodes) for p in CONFIG["projects"])
        ack(text=f"{total} nodes")

    return WebApp(app, Metrics(), lambda: (True, "ok"))


def one(slack: LocalSlack, url: str) -> Result:
    body = urlencode(
        {
            "command": "/tpu",
            "text": "list",
            "user_id": "U0BENCH",
            "channel_id": "C0GENERAL",
            "team_id": "T0LOCAL",
            "response_url": slack.response_url("C0GENERAL", "U0BENCH"),
        }
    )
    delivery = slack.signed_post(body, url=url)
    return delivery.seconds, delivery.status == 200


def burst(slack: LocalSlack, url: str, count: int) -> list[Result]:
    """`count` commands at once."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: one(slack, url), range(count)))


def steady(slack: LocalSlack, url: str, rate: float, seconds: float) -> list[Result]:
    """`rate` commands a second for `seconds`, each sent on its schedule."""
    count, pace = round(rate * seconds), threading.Event()
    started = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        futures = []
        for i in range(count):
            pace.wait(max(0.0, started + i / rate - time.monotonic()))  # the schedule, not a sync
            futures.append(pool.submit(one, slack, url))
        return [f.result() for f in futures]


def with_idle(url: str, count: int, run: Callable[[], list[Result]]) -> list[Result]:
    """Run the load while `count` connections sit half-open (a partial request, then nothing);
    count this process' threads before letting them go."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    idle = []
    try:
        for _ in range(count):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
            idle.append(sock)
        results = run()
        THREADS.append(threading.active_count())
        return results
    finally:
        for sock in idle:
            sock.close()


def row(name: str, load: str, results: list[Result], threads: int) -> list[Any]:
    samples = [seconds for seconds, _ in results]
    missed = sum(1 for seconds, acked in results if seconds > 3.0 or not acked)
    return [
        name,
        load,
        len(samples),
        percentile(samples, 50) * 1000,
        percentile(samples, 99) * 1000,
        max(samples) * 1000,
        missed,
        threads,
    ]


def start(args: argparse.Namespace) -> tuple[Emulator, Any, LocalSlack, TpuClient, Bot]:
    emulator = Emulator(fleet=400, projects=2)
    emulator_server = serve(emulator)
    slack = LocalSlack().start()
    slack.workspace.add_user("U0BENCH", "bench")
    tmp = Path(tempfile.mkdtemp())
    (tmp / "tpubot.yaml").write_text(yaml.safe_dump(CONFIG))
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "TPU_API_ENDPOINT": emulator_server.url,
            "COMPUTE_API_ENDPOINT": emulator_server.url,
            "MONITORING_API_ENDPOINT": emulator_server.url,
            "TPUBOT_CONFIG": str(tmp / "tpubot.yaml"),
            "TPUBOT_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        }
    )
    apis = {project.id: project.api for project in settings.bot.projects}
    tpu = TpuClient(emulator_server.url, apis=apis, retries=0, timeout=30)
    bot = build(settings, tpu=tpu).start(port=0, scheduler=False)
    return emulator, emulator_server, slack, tpu, bot


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--idle", type=int, default=300)
    parser.add_argument("--latency-ms", type=int, default=2000)
    parser.add_argument("--naive", action="store_true", help="Add the work-then-ack handler.")
    args = parser.parse_args()

    emulator, emulator_server, slack, tpu, bot = start(args)
    web = WebApp(bot.app, bot.metrics, bot.ready, bot.health)
    servers = {"waitress (tpu-bot)": bot.url, "wsgiref (before)": ""}
    old = serve_wsgiref(web, "127.0.0.1", 0, "wsgiref")
    servers["wsgiref (before)"] = old.url
    naive = serve_wsgiref(naive_app(slack, tpu), "127.0.0.1", 0, "naive") if args.naive else None
    if naive is not None:
        servers["wsgiref, naive (work, then ack)"] = naive.url
    rows, sent = [], 0
    try:
        emulator.set_faults({"latencyMs": args.latency_ms})
        for name, base in servers.items():
            url = base + "/slack/events"
            loads = {
                f"burst of {args.burst}": lambda url=url: burst(slack, url, args.burst),
                f"{args.rate:g}/s for {args.seconds:g} s": lambda url=url: steady(
                    slack, url, args.rate, args.seconds
                ),
                f"burst, {args.idle} half-open": lambda url=url: with_idle(
                    url, args.idle, lambda: burst(slack, url, args.burst)
                ),
            }
            for load, run in loads.items():
                results = run()
                threads = THREADS.pop() if THREADS else threading.active_count()
                sent += len(results) if "naive" not in name else 0
                rows.append(row(name, load, results, threads))
        # Our answers still arrive, later, through response_url.
        slack.workspace.wait_for(
            lambda: len(slack.workspace.calls_to("response_url")) >= sent, timeout=600
        )
    finally:
        bot.close()
        old.close()
        if naive is not None:
            naive.close()
        slack.close()
        emulator_server.close()

    print(
        f"/tpu list ack latency, TPU API latency {args.latency_ms} ms per call, "
        f"{os.cpu_count()} cores; every answer arrived through response_url; threads: this "
        "process' (bot, both servers, emulator, localslack) at the end of the load\n"
    )
    headers = ["server", "load", "requests", "p50 ms", "p99 ms", "max ms", "no ack in 3 s"]
    headers.append("threads")
    print(table(headers, rows))


if __name__ == "__main__":
    main()
