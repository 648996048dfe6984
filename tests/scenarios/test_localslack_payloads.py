"""What localslack sends an app, judged by a real Bolt app over HTTP (signed) and Socket Mode:
app_home_opened events, clicks in a Home tab, clicks on ephemeral messages."""

from __future__ import annotations

import queue
import re
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from localslack import APP_TOKEN, BOT_TOKEN, RULES, SIGNING_SECRET, LocalSlack, Rule
from localslack.http import serve_in_thread

ANN = "U0ANN"
BUTTON = {
    "type": "actions",
    "block_id": "home-actions",
    "elements": [
        {
            "type": "button",
            "action_id": "refresh",
            "value": "all",
            "text": {"type": "plain_text", "text": "Refresh"},
        }
    ],
}


class Bolt:
    """A Bolt app that records every event and click it is handed."""

    def __init__(self, slack: LocalSlack) -> None:
        self.client = WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=10)
        self.app = App(client=self.client, signing_secret=SIGNING_SECRET)
        self.seen: queue.Queue[dict[str, Any]] = queue.Queue()
        self.answers: list[int] = []

        @self.app.event("app_home_opened")
        def opened(body: dict[str, Any]) -> None:
            self.seen.put(body)

        @self.app.action(re.compile(".*"))
        def clicked(ack: Any, body: dict[str, Any], respond: Any) -> None:
            ack()
            if body.get("response_url"):
                self.answers.append(respond(text="seen").status_code)
            self.seen.put(body)

    def next(self) -> dict[str, Any]:
        return self.seen.get(timeout=10)


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    running = LocalSlack().start()
    running.workspace.add_user(ANN, "ann")
    yield running
    running.close()


@pytest.fixture(params=["http", "socket_mode"])
def bolt(request: pytest.FixtureRequest, slack: LocalSlack) -> Iterator[Bolt]:
    found = Bolt(slack)
    if request.param == "http":
        server = serve_in_thread(SlackRequestHandler(found.app), "127.0.0.1", 0, "bolt")
        slack.bot_url = server.url + "/slack/events"
        yield found
        server.close()
    else:
        handler = SocketModeHandler(found.app, APP_TOKEN, web_client=found.client)
        handler.connect()
        slack.hub.wait_for_client()
        yield found
        handler.close()


def test_opening_the_home_tab_sends_app_home_opened(slack: LocalSlack, bolt: Bolt) -> None:
    assert slack.open_home(ANN).status == 200
    first = bolt.next()
    assert first["type"] == "event_callback" and first["api_app_id"] == "A0TPUBOT"
    event = first["event"]
    assert (event["type"], event["user"], event["tab"]) == ("app_home_opened", ANN, "home")
    assert "view" not in event  # nothing was published yet
    published = bolt.client.views_publish(user_id=ANN, view={"type": "home", "blocks": [BUTTON]})
    slack.open_home(ANN)
    view = bolt.next()["event"]["view"]
    assert view["id"] == published["view"]["id"] and view["blocks"] == [BUTTON]


def test_a_click_in_the_home_tab_comes_with_the_view(slack: LocalSlack, bolt: Bolt) -> None:
    bolt.client.views_publish(user_id=ANN, view={"type": "home", "blocks": [BUTTON]})
    assert slack.click_home(ANN, "refresh").status == 200
    body = bolt.next()
    assert body["type"] == "block_actions" and body["user"]["id"] == ANN
    assert body["container"] == {"type": "view", "view_id": body["view"]["id"]}
    assert "message" not in body and "channel" not in body and "response_url" not in body
    assert body["actions"][0]["action_id"] == "refresh" and body["actions"][0]["value"] == "all"


def test_a_click_on_an_ephemeral_message_carries_no_message(slack: LocalSlack, bolt: Bolt) -> None:
    """Rule.EPHEMERAL_CLICK_PAYLOAD: Slack never gave the app the ephemeral message."""
    assert RULES[Rule.EPHEMERAL_CLICK_PAYLOAD].source.endswith("block_actions-payload")
    bolt.client.chat_postEphemeral(channel="C0GENERAL", user=ANN, text="t", blocks=[BUTTON])
    bolt.client.chat_postMessage(channel="C0GENERAL", text="t", blocks=[BUTTON])
    ephemeral, public = slack.workspace.snapshot("C0GENERAL")
    slack.click(ANN, ephemeral, "refresh")
    body = bolt.next()
    assert "message" not in body
    assert body["container"]["is_ephemeral"] is True
    assert body["container"]["message_ts"] == ephemeral.ts
    slack.click(ANN, public, "refresh")
    body = bolt.next()
    assert body["message"]["ts"] == public.ts and body["container"]["is_ephemeral"] is False
    assert bolt.answers == [200, 200]  # respond() works from both


def test_an_event_signed_with_another_secret_is_refused(slack: LocalSlack) -> None:
    """The event is signed as Slack signs (v0 over the raw JSON body): Bolt checks it."""
    found = Bolt(slack)
    server = serve_in_thread(SlackRequestHandler(found.app), "127.0.0.1", 0, "bolt")
    slack.bot_url = server.url + "/slack/events"
    try:
        assert slack.open_home(ANN, secret="not-the-secret").status == 401
        assert slack.open_home(ANN).status == 200
        assert found.next()["event"]["user"] == ANN
    finally:
        server.close()
