"""Logging: plain or JSON lines, masked as a whole: anything shaped like a token, and the
configured secrets, are replaced in the formatted line (the message, its arguments and any
traceback or stack alike), whoever logs it."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

# Slack tokens (bot, user, app, refresh, config) and Google OAuth access tokens.
_TOKEN = re.compile(r"\b(xox[abprse]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|ya29\.[A-Za-z0-9._-]+)")


def _cleaner(secrets: Iterable[str]) -> Callable[[str], str]:
    masked = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def clean(text: str) -> str:
        text = _TOKEN.sub("[redacted]", text)
        for secret in masked:
            text = text.replace(secret, "[redacted]")
        return text

    return clean


class Redact(logging.Filter):
    """Masks token-shaped strings and the given secrets in a record's message (for handlers
    whose formatter is not ours; `Redacting` masks the whole formatted line)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._clean = _cleaner(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._clean(record.getMessage())
        record.args = None
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


class Redacting(logging.Formatter):
    """Formats with `inner`, then masks the whole line: a token inside an exception's message,
    a traceback or a stack is caught too, which a filter on the message alone misses."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.inner = inner
        self._clean = _cleaner(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self._clean(self.inner.format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(level: str, json_lines: bool, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    inner = (
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    handler.setFormatter(Redacting(inner, secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per job run every second is noise; failures are logged by Jobs itself.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
