"""The ack bench's world: the emulator, localslack, a `tpu-bot serve` process and the bare
signature-checking app, and the signed slash commands and clicks sent to them.

Shared by bench/ack_bench.py and bench/ack_profile.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from bench.common import Process, start_emulator
from devstack.waiting import eventually
from localslack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, LocalSlack
from localslack.workspace import TEAM_ID

HERE = Path(__file__).resolve().parent
CHANNEL = "C0GENERAL"
PROJECT = "ml-prod"


def users(count: int) -> list[str]:
    return [f"U0B{i:04d}" for i in range(count)]


@dataclass
class Served:
    """A server process (the bot or the bare app); its log in a file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    def stop(self) -> str:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
        return self.log_path.read_text()[-3000:]

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return bytes(response.read())

    def metric(self, name: str, labels: str = "") -> float:
        """The sum of /metrics samples whose name and labels match."""
        pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*{re.escape(labels)}[^}}]*\}})? (\S+)$")
        total = 0.0
        for line in self.get("/metrics").decode().splitlines():
            match = pattern.match(line)
            if match:
                total += float(match.group(2))
        return total


def _spawn(
    name: str, argv: list[str], env: dict[str, str], tmp: Path, pattern: str, cwd: str | None = None
) -> Served:
    log_path = tmp / f"{name}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    served = Served(name, popen, log_path)

    def url() -> str | None:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited: {log_path.read_text()[-2000:]}")
        match = re.search(pattern, log_path.read_text())
        return match.group(1) if match else None

    served.url = eventually(url, 60, f"{name} serving")
    return served


@dataclass
class World:
    emulator: Process
    slack: LocalSlack
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ack-bench-")))

    @classmethod
    def start(cls, nodes: int, people: int) -> World:
        emulator = start_emulator("--fleet", str(nodes), "--projects", "1", "--clean")
        slack = LocalSlack().start()
        for user in users(people):
            slack.workspace.add_user(user, user.lower())
        return cls(emulator, slack)

    def close(self) -> None:
        self.slack.close()
        self.emulator.stop()

    def config(self, extra: dict[str, Any] | None = None, *, baseline: bool = False) -> Path:
        """The bot's config; a baseline checkout gets only the keys it knows (its config is
        strict), ours reads the Cloud TPU API's nodes alone, as the baseline does."""
        path = self.tmp / f"tpubot-{len(list(self.tmp.glob('tpubot-*')))}.yaml"
        project: dict[str, Any] = (
            {"id": PROJECT} if baseline else {"id": PROJECT, "sources": ["tpu"]}
        )
        config = {
            "projects": [project],
            "channels": {"alerts": "C0ALERTS", "approvals": "C0ONCALL"},
            **(extra or {}),
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def bot(
        self,
        name: str = "bot",
        *,
        socket_mode: bool = False,
        config: dict[str, Any] | None = None,
        source: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Served:
        """`tpu-bot serve` (HTTP on a free port, or Socket Mode); `source`: run another checkout
        of the bot (a baseline) with this environment."""
        db = self.tmp / f"{name}.db"
        environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TPU"))},
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack.api_url,
            "TPU_API_ENDPOINT": self.emulator.url,
            # Cards carry each TPU's utilization: the emulator's Cloud Monitoring answers.
            "MONITORING_API_ENDPOINT": self.emulator.url,
            "TPUBOT_CONFIG": str(self.config(config, baseline=source is not None)),
            "TPUBOT_DATABASE_URL": f"sqlite:///{db}",
            "PORT": "0",
            **(env or {}),
        }
        if socket_mode:
            environ["SLACK_APP_TOKEN"] = APP_TOKEN
        if source:
            environ["PYTHONPATH"] = source
        argv = [sys.executable, "-m", "bot", "--log-level", "INFO", "serve", "--host", "127.0.0.1"]
        # `python -m` puts the working directory first on sys.path: run a baseline from its own.
        served = _spawn(
            name, argv, environ, self.tmp, r"health on (http://[\d.]+:\d+)/healthz", cwd=source
        )
        if socket_mode:
            self.slack.hub.wait_for_client(30)
        return served

    def bare(self, threads: int = 8) -> Served:
        environ = {**os.environ, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
        argv = [sys.executable, str(HERE / "ack_bare.py"), "--threads", str(threads)]
        return _spawn("bare", argv, environ, self.tmp, r"bare on (http://[\d.]+:\d+)")

    def bare_socket(self) -> Served:
        environ = {**os.environ, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_API_URL": self.slack.api_url}
        argv = [sys.executable, str(HERE / "ack_bare_socket.py")]
        served = _spawn("bare-socket", argv, environ, self.tmp, r"bare socket (connected)")
        self.slack.hub.wait_for_client(30)
        return served

    def stop_socket(self, served: Served) -> None:
        served.stop()
        eventually(lambda: self.slack.hub.clients == 0, 30, "socket closed")

    # ----- what Slack sends ------------------------------------------------------------------

    def command(self, user: str, text: str = f"list project={PROJECT}") -> dict[str, str]:
        return {
            "token": "unused",
            "team_id": TEAM_ID,
            "team_domain": "local",
            "channel_id": CHANNEL,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/tpu",
            "text": text,
            "api_app_id": "A0TPUBOT",
            "is_enterprise_install": "false",
            "response_url": self.slack.response_url(CHANNEL, user),
            "trigger_id": f"{time.monotonic_ns():x}",
        }

    def click(self, user: str, value: str = f"list project={PROJECT} page=1") -> dict[str, Any]:
        """A click of a listing's next-page button (its value is the command it runs)."""
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0TPUBOT",
            "token": "unused",
            "container": {"type": "message", "message_ts": "1.000001", "channel_id": CHANNEL},
            "trigger_id": f"{time.monotonic_ns():x}",
            "team": {"id": TEAM_ID, "domain": "local"},
            "channel": {"id": CHANNEL, "name": "general"},
            "response_url": self.slack.response_url(CHANNEL, user),
            "actions": [
                {
                    "action_id": "list_page",
                    "block_id": "pages",
                    "type": "button",
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    @staticmethod
    def form(payload: dict[str, Any]) -> str:
        if payload.get("type") == "block_actions":
            return urlencode({"payload": json.dumps(payload)})
        return urlencode(payload)


def fire(url: str, requests: list[tuple[float, str]], threads: int, tmp: Path) -> dict[str, Any]:
    """Send `requests` ((seconds after start, form body)) from the client process."""
    plan = tmp / f"plan-{time.monotonic_ns()}.json"
    plan.write_text(
        json.dumps(
            {
                "url": url + "/slack/events",
                "secret": SIGNING_SECRET,
                "threads": threads,
                "requests": [{"at": at, "body": body} for at, body in requests],
            }
        )
    )
    out = subprocess.run(
        [sys.executable, str(HERE / "ack_client.py"), str(plan)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout))
