"""The Slack app manifest: valid against Slack's published schema, and no more scopes than used."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Slack's published schema: from shared/ beside the checkout, else the copy kept in tests/data
# (MIT, Slack Technologies; its license is beside it).
SCHEMA = next(
    (
        p
        for p in (
            ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json",
            ROOT / "tests" / "data" / "slack" / "manifest.schema.1.0.0.json",
        )
        if p.exists()
    ),
    ROOT / "tests" / "data" / "slack" / "manifest.schema.1.0.0.json",
)


# Used only behind a config flag or with a fallback that says what it could not do.
OPT_IN = {"channels:read", "channels:history"}


@pytest.fixture
def manifest() -> dict:
    return yaml.safe_load((ROOT / "app_manifest.yaml").read_text())


def test_manifest_is_valid_for_slack(manifest: dict) -> None:
    if not SCHEMA.exists():
        if os.environ.get("CI"):
            raise AssertionError(f"Slack's manifest schema is missing: {SCHEMA}")
        pytest.skip(f"Slack's manifest schema is not beside the checkout ({SCHEMA})")
    jsonschema.validate(manifest, json.loads(SCHEMA.read_text()))


def test_the_command_and_interactivity_match_the_code(manifest: dict) -> None:
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    app_source = (ROOT / "bot" / "slack" / "listeners.py").read_text()
    assert commands == ["/tpu"] and '@app.command("/tpu")' in app_source
    assert manifest["settings"]["interactivity"]["is_enabled"]
    assert manifest["settings"]["socket_mode_enabled"]
    # The Home tab: enabled, its event subscribed to, and a listener for it.
    home = (ROOT / "bot" / "slack" / "home.py").read_text()
    assert manifest["features"]["app_home"]["home_tab_enabled"]
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert '@app.event("app_home_opened")' in home


def test_scopes_are_the_least_that_work(manifest: dict) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # Every Web API method the bot calls, and the scope it needs.
    needs = {
        "chat.postMessage": "chat:write",
        "chat.update": "chat:write",
        "chat.postEphemeral": "chat:write",
        "usergroups_users_list": "usergroups:read",
        "conversations_info": "channels:read",
        "conversations_history": "channels:history",
        "conversations_replies": "channels:history",
    }
    source = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    used = {needs[m] for m in needs if m in source}
    assert used >= OPT_IN, "an opt-in scope nothing uses any more: drop it from the docs"
    assert scopes == (used - OPT_IN) | {"commands"}
    # The README explains each one.
    readme = (ROOT / "README.md").read_text()
    for scope in scopes:
        assert re.search(rf"\| `{re.escape(scope)}` \|", readme), scope


def test_opt_in_scopes_are_documented_not_granted(manifest: dict) -> None:
    """The bot works without them (it says what it cannot do); docs/reliability.md tells when to
    add them, and the manifest's comment points there."""
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    private = {s.replace("channels:", "groups:") for s in OPT_IN}
    assert not (OPT_IN | private) & scopes
    docs = (ROOT / "docs" / "reliability.md").read_text()
    for scope in OPT_IN | private:
        assert re.search(rf"\| `{re.escape(scope)}` \|", docs), scope
    assert "docs/reliability.md" in (ROOT / "app_manifest.yaml").read_text()
