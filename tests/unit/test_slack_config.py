"""The `slack:` section of the config: opt-in recovery from history, off by default."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, parse_bot_config

BASE = {"projects": [{"id": "ml-prod"}], "channels": {"alerts": "C0A1", "approvals": "C0A2"}}


def test_recovery_from_history_is_off_unless_asked() -> None:
    assert parse_bot_config(BASE).slack.recover_from_history is False
    on = parse_bot_config({**BASE, "slack": {"recover_from_history": True}})
    assert on.slack.recover_from_history is True


def test_a_misspelled_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"slack\.recover_from_histroy"):
        parse_bot_config({**BASE, "slack": {"recover_from_histroy": True}})
