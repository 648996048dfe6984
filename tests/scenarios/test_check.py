"""`tpu-bot check` names what is wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.runtime.check import run_checks
from devstack.admin import admin
from devstack.stack import CONFIG
from localslack import BOT_TOKEN, SIGNING_SECRET, LocalSlack
from tpu_emulator.http import RunningServer


def env_for(tmp_path: Path, slack: LocalSlack, tpu_url: str, **extra: str) -> dict[str, str]:
    config = tmp_path / "tpubot.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "TPU_API_ENDPOINT": tpu_url,
        "TPUBOT_CONFIG": str(config),
        "TPUBOT_DATABASE_URL": f"sqlite:///{tmp_path}/c.db",
        **extra,
    }


def test_all_good(tmp_path: Path, emulator_server: RunningServer) -> None:
    slack = LocalSlack().start()
    try:
        findings = run_checks(env_for(tmp_path, slack, emulator_server.url))
    finally:
        slack.close()
    assert all(f.ok for f in findings), findings
    assert [f.what for f in findings] == [
        "configuration",
        "Slack",
        "TPU API ml-prod",
        "TPU API ml-research",
        "database",
    ]


def test_each_problem_is_named_with_its_fix(tmp_path: Path, emulator_server: RunningServer) -> None:
    slack = LocalSlack().start()
    admin(emulator_server, "faults", {"permissionDenied": ["ml-research"]})
    try:
        env = env_for(
            tmp_path,
            slack,
            emulator_server.url,
            SLACK_BOT_TOKEN="xoxb-wrong",
            TPUBOT_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
        )
        findings = {f.what: f for f in run_checks(env)}
    finally:
        slack.close()
    assert not findings["Slack"].ok and "invalid_auth" in findings["Slack"].detail
    assert findings["TPU API ml-prod"].ok
    assert not findings["TPU API ml-research"].ok
    assert "roles/tpu.viewer" in findings["TPU API ml-research"].detail
    assert not findings["database"].ok and "TPUBOT_DATABASE_URL" in findings["database"].detail


def test_a_bad_config_is_reported_by_field(tmp_path: Path) -> None:
    config = tmp_path / "tpubot.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "channels": {"alerts": "general"}}))
    findings = run_checks({"TPUBOT_CONFIG": str(config)})
    assert len(findings) == 1 and not findings[0].ok
    assert "channels.alerts" in findings[0].detail
