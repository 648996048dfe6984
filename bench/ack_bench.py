"""Ack latency of `/tpu list` while every TPU API call takes 2 s, beside a naive handler.

Run: .venv/bin/python bench/ack_bench.py [--requests 40] [--concurrency 8] [--latency-ms 2000]

Both handlers are real Bolt apps behind the same signed-request path; localslack sends the signed
slash commands and times the HTTP round trip (what Slack waits on, with a 3 s limit). The naive
handler lists the nodes first and acks with the answer; ours acks and answers via response_url.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import percentile, table
from bot.app import build
from bot.config import load_settings
from bot.runtime.httpserver import serve_in_thread
from bot.runtime.web import WebApp
from bot.slack.chat import make_web_client
from bot.slack.listeners import build_app
from bot.tpu.client import TpuClient
from localslack import BOT_TOKEN, SIGNING_SECRET, LocalSlack
from tpu_emulator import Emulator
from tpu_emulator.server import serve

CONFIG = {
    "projects": [{"id": "ml-prod"}, {"id": "ml-research"}],
    "channels": {"alerts": "C0ALERTS", "approvals": "C0ONCALL"},
}


def naive_app(slack: LocalSlack, tpu: TpuClient) -> Any:
    """What many bots do: call the API, then ack with the result."""
    app = build_app(make_web_client(BOT_TOKEN, slack.api_url), SIGNING_SECRET)

    @app.command("/tpu")
    def handle(ack: Any, command: dict[str, Any]) -> None:
        total = sum(len(tpu.list_nodes(p["id"]).nodes) for p in CONFIG["projects"])
        ack(text=f"{total} nodes")

    from slack_bolt.adapter.wsgi import SlackRequestHandler

    return WebApp(SlackRequestHandler(app), build_metrics(), lambda: (True, "ok"))


def build_metrics() -> Any:
    from bot.runtime.metrics import Metrics

    return Metrics()


def fire(slack: LocalSlack, url: str, count: int, concurrency: int) -> list[tuple[float, bool]]:
    """(seconds to the HTTP answer, acked?) per request; a missed ack is Bolt's 404."""

    def one(i: int) -> tuple[float, bool]:
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

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(count)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=2000)
    args = parser.parse_args()

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
            "TPUBOT_CONFIG": str(tmp / "tpubot.yaml"),
            "TPUBOT_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        }
    )
    apis = {project.id: project.api for project in settings.bot.projects}
    tpu = TpuClient(emulator_server.url, apis=apis, retries=0, timeout=30)
    bot = build(settings, tpu=tpu).start(port=0, scheduler=False)
    naive = serve_in_thread(naive_app(slack, tpu))
    try:
        emulator.set_faults({"latencyMs": args.latency_ms})
        ours = fire(slack, bot.url + "/slack/events", args.requests, args.concurrency)
        theirs = fire(slack, naive.url + "/slack/events", args.requests, args.concurrency)
        # Our answers still arrive, later, through response_url.
        slack.workspace.wait_for(
            lambda: len(slack.workspace.calls_to("response_url")) >= args.requests, timeout=300
        )
    finally:
        bot.close()
        naive.close()
        slack.close()
        emulator_server.close()

    rows = []
    for name, results in (("tpu-bot (ack, then work)", ours), ("naive (work, then ack)", theirs)):
        samples = [seconds for seconds, _ in results]
        missed = sum(1 for seconds, acked in results if seconds > 3.0 or not acked)
        rows.append(
            [
                name,
                len(samples),
                percentile(samples, 50) * 1000,
                percentile(samples, 99) * 1000,
                max(samples) * 1000,
                missed,
            ]
        )
    print(
        f"/tpu list ack latency, TPU API latency {args.latency_ms} ms per call, "
        f"{args.requests} requests, {args.concurrency} at a time, {os.cpu_count()} cores\n"
    )
    print(table(["handler", "requests", "p50 ms", "p99 ms", "max ms", "no ack within 3 s"], rows))
    p99 = [percentile([seconds for seconds, _ in r], 99) for r in (theirs, ours)]
    print(f"\nnaive p99 / tpu-bot p99 = {p99[0] / p99[1]:.0f}x")


if __name__ == "__main__":
    main()
