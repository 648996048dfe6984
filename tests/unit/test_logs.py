"""Logs never carry a token or a secret, whoever writes them."""

from __future__ import annotations

import json
import logging

import pytest

from bot.runtime.logs import JsonFormatter, Redact


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("x", logging.INFO, __file__, 1, message, args, None)


@pytest.mark.parametrize(
    "leak",
    [
        "xoxb-12345-67890-abcdefABCDEF",
        "xapp-1-A0123-456-abcdef",
        "xoxp-1-2-3-abc",
        "ya29.a0AfH6SMC-secret_token",
    ],
)
def test_token_shapes_are_masked(leak: str) -> None:
    item = record("calling Slack with %s now", leak)
    Redact().filter(item)
    assert leak not in item.getMessage() and "[redacted]" in item.getMessage()


def test_configured_secrets_are_masked_and_json_lines_parse() -> None:
    item = record("signing with local-signing-secret")
    Redact(["local-signing-secret"]).filter(item)
    line = JsonFormatter().format(item)
    assert json.loads(line)["message"] == "signing with [redacted]"
