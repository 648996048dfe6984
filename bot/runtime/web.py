"""The bot's HTTP face: Slack's request URL beside /healthz, /readyz and /metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from prometheus_client import make_wsgi_app

from bot.runtime.metrics import Metrics

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Readiness = Callable[[], tuple[bool, str]]

SLACK_PATH = "/slack/events"


class WebApp:
    """WSGI routing; the Slack endpoint is Bolt's own WSGI adapter (signature checks included)."""

    def __init__(self, slack: Any | None, metrics: Metrics, ready: Readiness) -> None:
        self.slack = slack
        self.metrics_app = make_wsgi_app(metrics.registry)
        self.ready = ready

    @staticmethod
    def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
        payload = json.dumps(body).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        )
        return [payload]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == SLACK_PATH and self.slack is not None:
            return self.slack(environ, start_response)
        if path == "/healthz":
            return self._json(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            ok, reason = self.ready()
            status = "200 OK" if ok else "503 Service Unavailable"
            return self._json(start_response, status, {"ready": ok, "reason": reason})
        if path == "/metrics":
            return self.metrics_app(environ, start_response)
        return self._json(start_response, "404 Not Found", {"error": "not found"})
