"""Real `tpu-bot serve` processes, launched one way for the tests, replicas and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from devstack.waiting import eventually, free_port
from localslack import BOT_TOKEN, SIGNING_SECRET


def serve_env(
    workdir: Path,
    slack_api_url: str,
    tpu_url: str,
    config: dict[str, Any],
    *,
    database_url: str | None = None,
    port: int | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a `tpu-bot serve` against local stand-ins: the config written in
    `workdir`, SQLite there unless `database_url`, none of the caller's Slack/TPU/Google
    settings; `extra` adds or overrides variables."""
    (workdir / "tpubot.yaml").write_text(yaml.safe_dump(config))
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TPU", "GOOGLE", "COMPUTE_"))
    }
    return {
        **inherited,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "TPU_API_ENDPOINT": tpu_url,
        "COMPUTE_API_ENDPOINT": tpu_url,  # the emulator serves Compute Engine too
        "MONITORING_API_ENDPOINT": tpu_url,  # the emulator serves Cloud Monitoring too
        "TPUBOT_CONFIG": str(workdir / "tpubot.yaml"),
        "TPUBOT_DATABASE_URL": database_url or f"sqlite:///{workdir / 'bot.db'}",
        "PORT": str(port if port is not None else free_port()),
        **extra,
    }


def serve_command(log_level: str | None = None) -> list[str]:
    levels = ["--log-level", log_level] if log_level else []
    return [sys.executable, "-m", "bot", *levels, "serve", "--host", "127.0.0.1"]


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str


def status(url: str) -> int:
    """The HTTP status of a GET (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def start_serve(
    env: dict[str, str],
    *,
    log_level: str | None = None,
    stderr: int | TextIO | None = subprocess.PIPE,
    stdout: int | TextIO | None = subprocess.DEVNULL,
    wait: bool = True,
) -> Served:
    """Start `tpu-bot serve` with `env` and (unless `wait` is False) wait for /healthz; a
    process that does not come up is killed and its stderr raised."""
    process = subprocess.Popen(
        serve_command(log_level), env=env, stdout=stdout, stderr=stderr, text=True
    )
    served = Served(process, f"http://127.0.0.1:{env['PORT']}")
    if not wait:
        return served
    try:
        eventually(lambda: status(served.url + "/healthz") == 200, 60, "tpu-bot serve up")
    except TimeoutError:
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(err) from None
    return served
