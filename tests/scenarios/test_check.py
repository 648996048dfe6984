"""`tpu-bot check` names what is wrong and how to fix it, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from bot.runtime.check import Finding, read_schema_version, run_checks
from bot.storage.schema import MIGRATIONS, schema_version
from bot.storage.store import Store
from devstack.admin import admin
from devstack.stack import CONFIG, people
from localslack import BOT_TOKEN, SIGNING_SECRET, LocalSlack
from tpu_emulator.http import RunningServer

LATEST = len(MIGRATIONS)


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    running = LocalSlack().start()
    people(running)  # the channels and user groups CONFIG names
    yield running
    running.close()


def env_for(
    tmp_path: Path, slack: LocalSlack, tpu_url: str, config: Any = None, **extra: str
) -> dict[str, str]:
    path = tmp_path / "tpubot.yaml"
    path.write_text(yaml.safe_dump(config or CONFIG))
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "TPU_API_ENDPOINT": tpu_url,
        "COMPUTE_API_ENDPOINT": tpu_url,
        "TPUBOT_CONFIG": str(path),
        "TPUBOT_DATABASE_URL": f"sqlite:///{tmp_path}/c.db",
        **extra,
    }


def by_what(findings: list[Finding]) -> dict[str, Finding]:
    return {f.what: f for f in findings}


def test_all_good_with_the_manifests_scopes(
    tmp_path: Path, slack: LocalSlack, emulator_server: RunningServer
) -> None:
    findings = run_checks(env_for(tmp_path, slack, emulator_server.url))
    assert all(f.ok for f in findings), findings
    assert [f.what for f in findings] == [
        "configuration",
        "Slack",
        "Slack channels",
        "Slack group S0EVERYONE",
        "Slack group S0PLATFORM",
        "Slack group S0ONCALL",
        "TPU API ml-prod",
        "TPU API ml-research",
        "database",
    ]
    channels = by_what(findings)["Slack channels"].detail
    assert channels.startswith("not checked: the token lacks channels:read")
    assert "C0ALERTS, C0ONCALL, C0VISION" in channels and "/invite @tpu-bot" in channels
    assert "will create it (version" in by_what(findings)["database"].detail
    assert not (tmp_path / "c.db").exists()  # check creates no database


def test_channels_and_groups_are_checked_each_with_its_fix(
    tmp_path: Path, slack: LocalSlack, emulator_server: RunningServer
) -> None:
    slack.workspace.grant("channels:read", "groups:read")
    slack.workspace.set_member("C0ONCALL", False)
    config = {
        **CONFIG,
        "routes": [{"match": {"project": "ml-research"}, "channel": "C0GONE"}],
        "roles": {**CONFIG["roles"], "operator": ["S0NOSUCH"]},
    }
    findings = by_what(run_checks(env_for(tmp_path, slack, emulator_server.url, config)))
    assert findings["Slack channel C0ALERTS"].ok
    oncall = findings["Slack channel C0ONCALL"]
    assert not oncall.ok and "channels.approvals" in oncall.detail
    assert "not a member" in oncall.detail and "/invite @tpu-bot" in oncall.detail
    gone = findings["Slack channel C0GONE"]
    assert not gone.ok and "routes[0].channel" in gone.detail and "channel_not_found" in gone.detail
    group = findings["Slack group S0NOSUCH"]
    assert not group.ok and "roles.operator" in group.detail and "Copy group ID" in group.detail
    assert findings["Slack group S0ONCALL"].ok


def test_recovery_from_history_without_the_scopes_is_named(
    tmp_path: Path, slack: LocalSlack, emulator_server: RunningServer
) -> None:
    config = {**CONFIG, "slack": {"recover_from_history": True}}
    what = "Slack history (slack.recover_from_history)"
    finding = by_what(run_checks(env_for(tmp_path, slack, emulator_server.url, config)))[what]
    assert not finding.ok and "channels:history" in finding.detail
    assert "docs/reliability.md" in finding.detail
    slack.workspace.grant("channels:history")
    assert by_what(run_checks(env_for(tmp_path, slack, emulator_server.url, config)))[what].ok


def test_an_older_schema_is_reported_and_left_alone(
    tmp_path: Path, slack: LocalSlack, emulator_server: RunningServer
) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    Store(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.update(schema_version).values(version=LATEST - 1))
    engine.dispose()
    database = by_what(run_checks(env_for(tmp_path, slack, emulator_server.url)))["database"]
    assert database.ok and database.detail == (
        f"reachable, schema at version {LATEST - 1}, the bot will migrate to {LATEST} on start"
    )
    assert read_schema_version(url) == LATEST - 1  # still: check migrated nothing
    Store(url).close()
    database = by_what(run_checks(env_for(tmp_path, slack, emulator_server.url)))["database"]
    assert database.detail == f"reachable, schema up to date (version {LATEST})"


def test_postgres_is_read_only(pg_url: str) -> None:
    assert read_schema_version(pg_url) is None
    engine = sa.create_engine(pg_url)
    try:
        assert not sa.inspect(engine).has_table("schema_version")  # nothing created
    finally:
        engine.dispose()
    Store(pg_url).close()
    assert read_schema_version(pg_url) == LATEST


def test_each_problem_is_named_with_its_fix(
    tmp_path: Path, slack: LocalSlack, emulator_server: RunningServer
) -> None:
    admin(emulator_server, "faults", {"permissionDenied": ["ml-research"]})
    env = env_for(
        tmp_path,
        slack,
        emulator_server.url,
        SLACK_BOT_TOKEN="xoxb-wrong",
        TPUBOT_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
    )
    findings = by_what(run_checks(env))
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


def test_compute_projects_are_checked_and_a_denied_one_named_with_its_role(
    tmp_path: Path, slack: LocalSlack, emulator_server: RunningServer
) -> None:
    config = {
        **CONFIG,
        "projects": [
            {"id": "ml-prod", "api": "v1alpha1"},  # both sources (the default)
            {"id": "ml-research", "sources": ["compute"]},
        ],
    }
    found = by_what(run_checks(env_for(tmp_path, slack, emulator_server.url, config)))
    assert "TPU API ml-research" not in found  # its sources do not have tpu
    assert (
        found["Compute Engine ml-prod"].ok and "TPU VMs" in found["Compute Engine ml-prod"].detail
    )
    assert found["Compute Engine ml-research"].ok
    admin(emulator_server, "faults", {"permissionDenied": ["ml-prod"]})
    denied = by_what(run_checks(env_for(tmp_path, slack, emulator_server.url, config)))
    assert not denied["Compute Engine ml-prod"].ok
    assert "roles/compute.viewer" in denied["Compute Engine ml-prod"].detail
