"""localslack over the wire: the Web API on HTTP, response_url, Socket Mode on a WebSocket, and a
driver that sends signed slash commands and button clicks to the bot, as Slack does."""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from slack_sdk.signature import SignatureVerifier
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from localslack.http import RunningServer, serve_in_thread
from localslack.workspace import (
    APP_ID,
    SIGNING_SECRET,
    TEAM_ID,
    Json,
    Message,
    SlackError,
    Workspace,
)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_REASONS = {
    200: "OK",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Delivery:
    """How the bot answered a request: HTTP status and body (or the Socket Mode ack payload)."""

    status: int
    body: str
    seconds: float

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip().startswith("{") else None


def _json_response(
    start_response: StartResponse,
    status: int,
    body: Json,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(payload))),
            *(headers or []),
        ],
    )
    return [payload]


class SlackWebApp:
    """WSGI: `/api/{method}`, `/response/{token}`; `extra` serves the rest (the demo page)."""

    def __init__(self, workspace: Workspace, extra: Any = None) -> None:
        self.workspace = workspace
        self.extra = extra

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/api/"):
            return self._api(path[len("/api/") :], environ, start_response)
        if path.startswith("/response/") and environ["REQUEST_METHOD"] == "POST":
            return self._post_response(path[len("/response/") :], environ, start_response)
        if self.extra is not None:
            return self.extra(environ, start_response)
        return _json_response(start_response, 404, {"ok": False, "error": "not_found"})

    @staticmethod
    def _body(environ: dict[str, Any]) -> tuple[bytes, str]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return environ["wsgi.input"].read(length) if length else b"", environ.get(
            "CONTENT_TYPE", ""
        )

    def _api(
        self, method: str, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        raw, content_type = self._body(environ)
        args: Json = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if raw:
            if "json" in content_type:
                try:
                    args.update(json.loads(raw))
                except ValueError:
                    return _json_response(
                        start_response, 200, {"ok": False, "error": "invalid_json"}
                    )
            else:
                args.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
        token = None
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :]
        token = token or args.pop("token", None)
        try:
            return _json_response(start_response, 200, self.workspace.call(method, token, args))
        except SlackError as exc:
            headers = [("Retry-After", str(exc.retry_after))] if exc.retry_after else []
            body = {"ok": False, "error": exc.error, **exc.extra}
            return _json_response(start_response, exc.status, body, headers)

    def _post_response(
        self, token: str, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        raw, _ = self._body(environ)
        try:
            self.workspace.respond(token, json.loads(raw or b"{}"))
        except SlackError as exc:
            return _json_response(
                start_response,
                exc.status if exc.status != 200 else 400,
                {"ok": False, "error": exc.error},
            )
        except ValueError:
            return _json_response(start_response, 400, {"ok": False, "error": "invalid_json"})
        return _json_response(start_response, 200, {"ok": True})


class SocketModeHub:
    """The Socket Mode side: hands each envelope to one connected client and waits for its ack."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, tuple[threading.Event, list[Any]]] = {}
        self._round_robin = itertools.count()
        self.connected = threading.Condition(self._lock)

    def handler(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": APP_ID},
                    "debug_info": {"host": "localslack"},
                }
            )
        )
        with self._lock:
            self._connections.append(connection)
            self.connected.notify_all()
        try:
            for raw in connection:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
                with self._lock:
                    waiter = self._acks.pop(envelope_id, None) if envelope_id else None
                if waiter is not None:
                    waiter[1].append(message.get("payload"))
                    waiter[0].set()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._connections)

    def wait_for_client(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.connected:
            while not self._connections:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no Socket Mode client connected")
                self.connected.wait(remaining)

    def deliver(self, kind: str, payload: Json, timeout: float = 3.0) -> Delivery:
        envelope_id = secrets.token_hex(8)
        event = threading.Event()
        box: list[Any] = []
        with self._lock:
            if not self._connections:
                raise ConnectionError("no Socket Mode client connected")
            connection = self._connections[next(self._round_robin) % len(self._connections)]
            self._acks[envelope_id] = (event, box)
        started = time.monotonic()
        connection.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "payload": payload,
                    "accepts_response_payload": kind != "events_api",
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
        )
        acked = event.wait(timeout)
        seconds = time.monotonic() - started
        if not acked:
            with self._lock:
                self._acks.pop(envelope_id, None)
            return Delivery(0, "", seconds)
        return Delivery(200, json.dumps(box[0] or {}), seconds)


class LocalSlack:
    """The whole stand-in: start it, point the bot's SLACK_API_URL at `api_url`, drive it."""

    def __init__(
        self,
        workspace: Workspace | None = None,
        signing_secret: str = SIGNING_SECRET,
        extra_app: Any = None,
    ) -> None:
        self.workspace = workspace or Workspace()
        self.signing_secret = signing_secret
        self.hub = SocketModeHub()
        self.bot_url: str | None = None  # the bot's /slack/events, for HTTP mode
        self._extra_app = extra_app
        self._http: RunningServer | None = None
        self._ws: Any = None
        self._ws_thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> LocalSlack:
        self._http = serve_in_thread(
            SlackWebApp(self.workspace, self._extra_app), host, port, name="localslack"
        )
        self._ws = serve(self.hub.handler, host, 0)
        ws_port = self._ws.socket.getsockname()[1]
        self.workspace.socket_url = f"ws://{host}:{ws_port}/link"
        self._ws_thread = threading.Thread(
            target=self._ws.serve_forever, daemon=True, name="localslack-ws"
        )
        self._ws_thread.start()
        return self

    def close(self) -> None:
        if self._ws is not None:
            self._ws.shutdown()
        if self._ws_thread is not None:
            self._ws_thread.join(timeout=10)
        if self._http is not None:
            self._http.close()

    @property
    def url(self) -> str:
        assert self._http is not None, "start() first"
        return self._http.url

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    # ----- sending to the bot ----------------------------------------------------------------

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        token = self.workspace.new_response_url_token(channel, user, message_ts)
        return f"{self.url}/response/{token}"

    def signed_post(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        url: str | None = None,
    ) -> Delivery:
        """POST a form body to the bot with Slack's request signature."""
        target = url or self.bot_url
        assert target, "bot_url is not set"
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(secret or self.signing_secret).generate_signature(
            timestamp=stamp, body=body
        )
        request = urllib.request.Request(
            target,
            data=body.encode(),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature or "",
            },
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Delivery(
                    response.status, response.read().decode(), time.monotonic() - started
                )
        except urllib.error.HTTPError as exc:
            return Delivery(exc.code, exc.read().decode(), time.monotonic() - started)

    def _deliver(self, kind: str, payload: Json, form: dict[str, str], **signing: Any) -> Delivery:
        if self.bot_url is None and self.hub.clients:
            return self.hub.deliver(kind, payload)
        return self.signed_post(urlencode(form), **signing)

    def slash(
        self,
        user: str,
        text: str,
        channel: str = "C0GENERAL",
        command: str = "/tpu",
        **signing: Any,
    ) -> Delivery:
        """Type `/tpu text` as `user` in `channel`; the person's words are recorded too."""
        ws = self.workspace
        ws.post(channel, user, f"{command} {text}".strip(), [], ephemeral_for=user, via=user)
        payload = {
            "token": "verification-token-unused",
            "team_id": TEAM_ID,
            "team_domain": "local",
            "channel_id": channel,
            "channel_name": ws.channels.get(channel, "unknown"),
            "user_id": user,
            "user_name": ws.users.get(user, user),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.response_url(channel, user),
            "trigger_id": secrets.token_hex(8),
        }
        return self._deliver("slash_commands", payload, payload, **signing)

    def click(
        self,
        user: str,
        message: Message,
        action_id: str,
        *,
        value: str | None = None,
        selected: str | None = None,
        **signing: Any,
    ) -> Delivery:
        """Click a button (or pick an option) of `message` as `user`."""
        element = self._element(message, action_id)
        action: Json = {
            "action_id": action_id,
            "block_id": element[0],
            "type": element[1].get("type", "button"),
            "action_ts": f"{time.time():.6f}",
        }
        if selected is not None:
            option = next(
                (o for o in element[1].get("options", []) if o["value"] == selected),
                {"text": {"type": "plain_text", "text": selected}, "value": selected},
            )
            action["selected_option"] = option
        else:
            action["value"] = value if value is not None else element[1].get("value", "")
            action["text"] = element[1].get("text")
        payload = {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": self.workspace.users.get(user, user),
                "name": self.workspace.users.get(user, user),
                "team_id": TEAM_ID,
            },
            "api_app_id": APP_ID,
            "token": "verification-token-unused",
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
                "is_ephemeral": message.ephemeral_for is not None,
            },
            "trigger_id": secrets.token_hex(8),
            "team": {"id": TEAM_ID, "domain": "local"},
            "channel": {
                "id": message.channel,
                "name": self.workspace.channels.get(message.channel, ""),
            },
            "message": message.to_json(),
            "response_url": self.response_url(message.channel, user, message.ts),
            "actions": [action],
        }
        return self._deliver("interactive", payload, {"payload": json.dumps(payload)}, **signing)

    @staticmethod
    def _element(message: Message, action_id: str) -> tuple[str, Json]:
        for block in message.blocks:
            elements = list(block.get("elements") or [])
            if block.get("accessory"):
                elements.append(block["accessory"])
            for element in elements:
                if element.get("action_id") == action_id:
                    return str(block.get("block_id", "")), element
        raise LookupError(f"message {message.ts} has no element {action_id!r}")
