"""The bot's HTTP face: Slack's request URL beside /healthz, /readyz and /metrics.

The Slack endpoint checks what it was sent before Bolt sees it: a body over the limit gets 413
unread, and a body that is not Slack's shape (bad UTF-8, a broken form, a payload that is not a
JSON object...) gets 400. Bolt parses bodies before it checks signatures and answers 500 when
parsing fails, so the guard applies to signed and unsigned requests alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import make_wsgi_app
from slack_bolt import App, BoltRequest, BoltResponse

from bot.runtime.metrics import Metrics
from bot.slack.work import AckGate

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Readiness = Callable[[], tuple[bool, str]]
Health = Callable[[], dict[str, Any]]

SLACK_PATH = "/slack/events"
MAX_BODY_BYTES = 1024 * 1024

# What Bolt and the listeners read, by key: strings, objects (or an id string), lists of objects.
_STRINGS = (
    "type", "command", "text", "callback_id", "trigger_id", "response_url", "user_id",
    "channel_id", "team_id", "api_app_id", "token", "enterprise_id",
)  # fmt: skip
_OBJECT_OR_STRING = ("user", "channel", "team", "enterprise")
_OBJECTS = ("event", "view", "container", "message", "workflow_step", "function_data", "state")
_LISTS_OF_OBJECTS = ("actions", "authorizations")
_ACTION_STRINGS = ("action_id", "block_id", "type")


class BadRequest(Exception):
    """The body is not something Slack sends; the message says what is wrong (no body echoed)."""


def _strings(value: dict[str, Any], keys: tuple[str, ...], where: str) -> str | None:
    for key in keys:
        if key in value and not isinstance(value[key], str | None):
            return f"{where}{key} is not a string"
    return None


def shape_error(body: Any) -> str | None:
    """Why `body` is not shaped like a Slack payload where Bolt or a listener reads it."""
    if not isinstance(body, dict):
        return "not a JSON object"
    if why := _strings(body, _STRINGS, ""):
        return why
    for key in _OBJECT_OR_STRING:
        value = body.get(key)
        if not isinstance(value, dict | str | None):
            return f"{key} is not an object"
        if isinstance(value, dict) and (why := _strings(value, ("id",), f"{key}.")):
            return why
    for key in _OBJECTS:
        if key in body and not isinstance(body[key], dict):
            return f"{key} is not an object"
    event = body.get("event") or {}
    for key in ("message", "previous_message"):
        if not isinstance(event.get(key), dict | None):
            return f"event.{key} is not an object"
    for key, strings in (("event", ("type",)), ("view", ("type", "callback_id"))):
        if why := _strings(body.get(key) or {}, strings, f"{key}."):
            return why
    for key in _LISTS_OF_OBJECTS:
        items = body.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return f"{key} is not a list of objects"
    if body.get("type") in ("block_actions", "interactive_message") and not body.get("actions"):
        return "an action payload without actions"
    if body.get("type") == "block_actions" and not all(
        isinstance(action.get("action_id"), str) for action in body["actions"]
    ):
        return "an action without an action_id"
    for action in body.get("actions") or []:
        if why := _strings(action, _ACTION_STRINGS, "actions[]."):
            return why
    return None


def parse_slack_body(text: str, content_type: str | None) -> dict[str, Any]:
    """Parse a body the way Bolt will (JSON, a form, or a form with a JSON `payload`)."""
    try:
        if content_type == "application/json" or text.startswith("{"):
            body = json.loads(text)
        else:
            form = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
            body = json.loads(form["payload"]) if "payload" in form else form
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"unparsable body ({exc.__class__.__name__})") from None
    why = shape_error(body)
    if why is not None:
        raise BadRequest(f"not a Slack payload: {why}")
    return dict(body)


def read_body(environ: Mapping[str, Any], limit: int) -> bytes:
    """The request body, if its declared length is within `limit` (checked before reading)."""
    declared = environ.get("CONTENT_LENGTH") or "0"
    try:
        length = int(declared)
    except ValueError:
        raise BadRequest("Content-Length is not a number") from None
    if length < 0:
        raise BadRequest("Content-Length is negative")
    if length > limit:
        raise OverflowError(f"body of {length} bytes is over the {limit} byte limit")
    body = environ["wsgi.input"].read(length) if length else b""
    if len(body) != length:
        raise BadRequest("body shorter than its Content-Length")
    return bytes(body)


def _headers(environ: Mapping[str, Any]) -> dict[str, str | Sequence[str]]:
    headers: dict[str, str | Sequence[str]] = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _status(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


class WebApp:
    """WSGI routing: the Slack endpoint (guarded, then Bolt), health, readiness and metrics."""

    def __init__(
        self,
        slack: App | None,
        metrics: Metrics,
        ready: Readiness,
        health: Health | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        gate: AckGate | None = None,
    ) -> None:
        self.slack = slack
        self.gate = gate or AckGate()  # told while Slack waits, so the work holds back
        self.metrics_app = make_wsgi_app(metrics.registry)
        self.ready = ready
        self.health = health or (lambda: {})
        self.max_body_bytes = max_body_bytes

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
            self.gate.enter()
            try:
                return self._slack(environ, start_response)
            finally:
                self.gate.leave()
        if path == "/healthz":
            return self._json(start_response, "200 OK", {"status": "ok", **self.health()})
        if path == "/readyz":
            ok, reason = self.ready()
            status = "200 OK" if ok else "503 Service Unavailable"
            return self._json(start_response, status, {"ready": ok, "reason": reason})
        if path == "/metrics":
            return list(self.metrics_app(environ, start_response))
        return self._json(start_response, "404 Not Found", {"error": "not found"})

    def _slack(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        assert self.slack is not None
        if environ.get("REQUEST_METHOD") != "POST":
            return self._json(start_response, "405 Method Not Allowed", {"error": "POST only"})
        try:
            raw = read_body(environ, self.max_body_bytes)
            text = raw.decode("utf-8")
            headers = _headers(environ)
            parse_slack_body(text, environ.get("CONTENT_TYPE"))
            request = BoltRequest(
                body=text, query=environ.get("QUERY_STRING") or None, headers=headers
            )
        except OverflowError as exc:
            return self._json(start_response, "413 Content Too Large", {"error": str(exc)})
        except UnicodeDecodeError:
            return self._json(start_response, "400 Bad Request", {"error": "body is not UTF-8"})
        except BadRequest as exc:
            return self._json(start_response, "400 Bad Request", {"error": str(exc)})
        except Exception as exc:  # Bolt's own parsing of a body that passed ours
            log.warning("slack: unparsable request (%s)", exc.__class__.__name__)
            return self._json(start_response, "400 Bad Request", {"error": "unparsable body"})
        return self._bolt(self.slack.dispatch(request), start_response)

    @staticmethod
    def _bolt(response: BoltResponse, start_response: StartResponse) -> list[bytes]:
        body = response.body.encode() if isinstance(response.body, str) else response.body
        headers = [
            (name, value)
            for name, values in response.headers.items()
            if name.lower() != "content-length"
            for value in values
        ]
        headers.append(("Content-Length", str(len(body))))
        start_response(_status(response.status), headers)
        return [body]
