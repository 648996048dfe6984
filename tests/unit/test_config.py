from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_bot_config, load_settings, parse_bot_config

MINIMAL = {"projects": [{"id": "ml-prod"}], "channels": {"alerts": "C0A", "approvals": "C0B"}}


def test_defaults_fill_everything_but_projects_and_channels() -> None:
    config = parse_bot_config(MINIMAL)
    assert config.projects[0].locations == ("-",)
    assert config.roles.viewer == ("*",) and config.roles.operator == ()
    assert config.approvals.required_for == (
        "stop",
        "delete",
        "reimage",
        "create",
        "report-faulty",
        "maintenance",
    )
    assert config.approvals.ttl_minutes == 30 and config.watch.poll_seconds == 60
    # Both sources of TPUs by default; Compute Engine's capacity on its slower cadence.
    assert config.projects[0].sources == ("tpu", "compute")
    assert config.watch.capacity_seconds == 300


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"projectz": []}, "projectz: unknown key"),
        ({"projects": []}, "projects: Value error, list at least one project"),
        ({"projects": [{"id": "ml-prod", "locations": ["mars"]}]}, "projects.0.locations"),
        ({"channels": {"alerts": "general", "approvals": "C0B"}}, "channels.alerts"),
        ({"channels": {"alerts": "C0A"}}, "channels.approvals: required"),
        ({"roles": {"operator": ["bob"]}}, "roles.operator"),
        ({"approvals": {"required_for": ["explode"]}}, "approvals.required_for.0"),
        ({"watch": {"poll_seconds": 1}}, "watch.poll_seconds"),
        ({"projects": [{"id": "ml-prod", "sources": ["gce"]}]}, "projects.0.sources.0"),
        ({"projects": [{"id": "ml-prod", "sources": []}]}, "projects.0.sources"),
        ({"projects": [{"id": "ml-prod", "sources": ["tpu", "tpu"]}]}, "projects.0.sources"),
    ],
)
def test_errors_name_the_field(change: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_bot_config({**MINIMAL, **change})
    assert needle in str(caught.value)


def test_load_from_environment_and_file(tmp_path: Path) -> None:
    path = tmp_path / "tpubot.yaml"
    path.write_text(
        "projects: [{id: ml-prod, locations: [us-central1-b]}]\n"
        "channels: {alerts: C0A, approvals: C0B}\n"
    )
    settings = load_settings(
        {"TPUBOT_CONFIG": str(path), "SLACK_BOT_TOKEN": "xoxb-secret", "PORT": "4000"}
    )
    assert settings.bot.project_ids == ("ml-prod",) and settings.env.PORT == 4000
    assert not settings.socket_mode
    assert "xoxb-secret" not in repr(settings)
    with pytest.raises(ConfigError, match="not found"):
        load_bot_config(tmp_path / "missing.yaml")
    path.write_text("projects: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_bot_config(path)
