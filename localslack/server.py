"""localslack over the wire: the Web API on HTTP, response_url, Socket Mode on a WebSocket, and a
driver that sends the bot signed slash commands, clicks and events, as Slack does."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier
from websockets.sync.server import serve

from localslack import payloads
from localslack.base import SIGNING_SECRET, Json, Message
from localslack.http import RunningServer, serve_in_thread
from localslack.socket_mode import Delivery, SocketModeHub
from localslack.web import SlackWebApp
from localslack.workspace import Workspace

__all__ = ["Delivery", "LocalSlack", "SlackWebApp", "SocketModeHub"]

FORM = "application/x-www-form-urlencoded"


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
        # What was sent to the bot and how it answered, the latest thousand.
        self.deliveries: deque[tuple[Json, Delivery]] = deque(maxlen=1000)
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
        content_type: str = FORM,
    ) -> Delivery:
        """POST a body to the bot with Slack's request signature (v0, over the raw body)."""
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
                "Content-Type": content_type,
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

    def _deliver(self, kind: str, payload: Json, body: str, **signing: Any) -> Delivery:
        """Over Socket Mode when a client is connected and no bot URL is set, else over HTTP."""
        if self.bot_url is None and self.hub.clients:
            delivery = self.hub.deliver(kind, payload)
        else:
            delivery = self.signed_post(body, **signing)
        self.deliveries.append((payload, delivery))  # deque.append is atomic
        return delivery

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
        url = self.response_url(channel, user)
        payload = payloads.slash(ws, user, channel, command, text, url)
        return self._deliver("slash_commands", payload, urlencode(payload), **signing)

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
        block_id, element = payloads.find_element(message.blocks, action_id)
        acted = payloads.action(block_id, element, self.workspace.now(), value, selected)
        url = self.response_url(message.channel, user, message.ts)
        payload = payloads.message_click(self.workspace, user, message, acted, url)
        form = urlencode({"payload": json.dumps(payload)})
        return self._deliver("interactive", payload, form, **signing)

    def click_home(
        self,
        user: str,
        action_id: str,
        *,
        value: str | None = None,
        selected: str | None = None,
        **signing: Any,
    ) -> Delivery:
        """Click a button (or pick an option) of the Home tab published for `user`."""
        view = self.workspace.home(user)
        if view is None:
            raise LookupError(f"no Home tab was published for {user}")
        block_id, element = payloads.find_element(view["blocks"], action_id)
        acted = payloads.action(block_id, element, self.workspace.now(), value, selected)
        payload = payloads.view_click(self.workspace, user, view, acted)
        form = urlencode({"payload": json.dumps(payload)})
        return self._deliver("interactive", payload, form, **signing)

    def open_home(self, user: str, **signing: Any) -> Delivery:
        """`user` opens the app's Home tab: an app_home_opened event, in an Events API envelope
        (JSON over HTTP, or an events_api envelope over Socket Mode)."""
        payload = payloads.app_home_opened(self.workspace, user, self.workspace.now())
        body = json.dumps(payload)
        return self._deliver(
            "events_api", payload, body, content_type="application/json", **signing
        )
