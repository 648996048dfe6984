"""The bot's Home tab: `app_home_opened` draws it; a button in it runs its `/tpu` text like any
click, and the answer goes to the person's direct messages with the bot (a Home view has no
response_url). Both go through the ingress (identity, rate, room) and the work pool like any
request. Registered before the message listeners, which would answer a click through
response_url."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App

from bot.slack.actions import command_text, known
from bot.slack.ingress import Ingress
from bot.slack.listeners import inner
from bot.slack.work import Kind, Request


def _from_home(body: dict[str, Any]) -> bool:
    return inner(body, "container", "type") == "view" and inner(body, "view", "type") == "home"


def register_home(app: App, ingress: Ingress) -> None:
    """Attach the Home listeners (before the generic click listener)."""

    @app.event("app_home_opened")
    def on_home(ack: Any, event: dict[str, Any]) -> None:
        ack()
        user = str(event.get("user", ""))
        if user and event.get("tab", "home") == "home":
            ingress.admit(Request(Kind.HOME, user, "", "", ""))

    @app.action(re.compile(".*"), matchers=[_from_home])
    def on_home_click(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = inner(body, "user", "id")
        action_id = str(action.get("action_id", ""))
        # An element the bot never renders carries nothing to run: the dispatcher refuses it.
        text = command_text(action) if known(action_id) is not None else ""
        ingress.admit(Request(Kind.HOME_CLICK, user, user, text, "", action_id[:40]))
