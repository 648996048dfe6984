"""`tpu-bot serve` as a process: config from the environment, HTTP mode, health, a command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

from devstack.processes import serve_env, start_serve
from devstack.stack import CONFIG, VIEWER, people
from devstack.waiting import eventually
from localslack import BOT_TOKEN, SIGNING_SECRET, LocalSlack
from tpu_emulator.http import RunningServer


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def test_serve_in_http_mode(tmp_path: Path, emulator_server: RunningServer) -> None:
    slack = LocalSlack().start()
    people(slack)
    env = serve_env(tmp_path, slack.api_url, emulator_server.url, CONFIG)
    served = start_serve(env, wait=False)
    process, base = served.process, served.url
    try:
        eventually(lambda: get(base + "/healthz")[0] == 200, timeout=30)
        assert get(base + "/readyz") == (200, {"ready": True, "reason": "ok"})
        slack.bot_url = base + "/slack/events"
        delivery = slack.slash(VIEWER, "list project=ml-prod")
        assert delivery.status == 200
        answer = slack.workspace.wait_for(
            lambda: [m for m in slack.workspace.snapshot() if m.via == "response_url"]
        )[0]
        assert answer.blocks[0]["text"]["text"] == "TPUs"
        with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
            metrics = response.read().decode()
        assert 'tpubot_tpu_api_calls_total{method="nodes.list",status="ok"}' in metrics
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
        slack.close()
    assert process.returncode == 0, stderr
    assert BOT_TOKEN not in stderr and SIGNING_SECRET not in stderr


def test_serve_refuses_a_bad_config_with_the_field_named(tmp_path: Path) -> None:
    config = tmp_path / "tpubot.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "channels": {"alerts": "general"}}))
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "x",
        "TPUBOT_CONFIG": str(config),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "channels.alerts" in result.stderr and "channels.approvals: required" in result.stderr
