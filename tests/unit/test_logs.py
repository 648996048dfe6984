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


def test_a_token_inside_a_traceback_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    """Redaction covers the formatted line: an exception's message and its traceback too."""
    from bot.runtime.logs import configure

    leak = "xoxb-999-888-tracebackleak"
    configure("INFO", json_lines=False, secrets=["s3cr3t-signing"])
    try:
        try:
            raise RuntimeError(f"Slack said no to {leak} with s3cr3t-signing")
        except RuntimeError:
            logging.getLogger("bot.test").exception("sending failed")
        logging.getLogger("bot.test").error("stack", stack_info=True)
    finally:
        logging.getLogger().handlers.clear()
    err = capsys.readouterr().err
    assert "sending failed" in err and "RuntimeError" in err  # the traceback is there...
    assert leak not in err and "s3cr3t-signing" not in err  # ...masked
    assert err.count("[redacted]") >= 2


def test_the_database_password_is_among_the_masked_values() -> None:
    from bot.config import secrets_to_mask

    masked = secrets_to_mask(
        {
            "TPUBOT_DATABASE_URL": "postgresql://tpubot:p%40ss-w0rd@db:5432/tpubot",
            "SLACK_BOT_TOKEN": "xoxb-1-2-3",
        }
    )
    assert "p%40ss-w0rd" in masked and "p@ss-w0rd" in masked and "xoxb-1-2-3" in masked
    assert secrets_to_mask({"TPUBOT_DATABASE_URL": "sqlite:///./tpubot.db"}) == []
