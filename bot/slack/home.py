"""The bot's Home tab: `app_home_opened` draws it; a button in it runs its `/tpu` text like any
click, and the answer goes to the person's direct messages with the bot (a Home view has no
response_url). Registered before the message listeners, which would answer a click through
response_url."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from slack_bolt import App

from bot.slack.actions import command_text, known

Clock = Callable[[], datetime]


class HomeHandler(Protocol):
    """What the Home listeners hand their work to (the use cases' dispatcher)."""

    def home(self, user: str, now: datetime) -> None: ...
    def home_click(self, user: str, text: str, now: datetime, action: str = "click") -> None: ...


class Work(Protocol):
    def submit(self, job: Callable[[], None]) -> Any: ...


def _from_home(body: dict[str, Any]) -> bool:
    return (body.get("container") or {}).get("type") == "view" and (
        (body.get("view") or {}).get("type") == "home"
    )


def register_home(app: App, handler: HomeHandler, clock: Clock, work: Work) -> None:
    """Attach the Home listeners (before the generic click listener)."""

    @app.event("app_home_opened")
    def on_home(ack: Any, event: dict[str, Any]) -> None:
        ack()
        user = str(event.get("user", ""))
        if user and event.get("tab", "home") == "home":
            work.submit(lambda: handler.home(user, clock()))

    @app.action(re.compile(".*"), matchers=[_from_home])
    def on_home_click(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = str((body.get("user") or {}).get("id", ""))
        action_id = str(action.get("action_id", ""))
        # An element the bot never renders carries nothing to run: the dispatcher refuses it.
        text = command_text(action) if known(action_id) is not None else ""
        work.submit(lambda: handler.home_click(user, text, clock(), action=action_id[:40]))
