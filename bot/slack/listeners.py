"""Thin Bolt listeners: ack at once, hand the work to a pool, answer through response_url.

Bolt runs listeners on a small pool and a listener that keeps working after ack() holds its
thread; under load, new requests would then wait for a thread before they could ack. So the slow
part goes to a pool of its own and every listener returns right after ack().
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol

from slack_bolt import App
from slack_sdk import WebClient

from bot.core.messages import Message, NodePage, QueuedPage
from bot.runtime.metrics import Metrics
from bot.slack import blocks as render
from bot.slack.actions import command_text, known

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def build_app(client: WebClient, signing_secret: str | None, *, verify_token: bool = True) -> App:
    """A Bolt app on an injected WebClient. The signing secret is what HTTP mode verifies."""
    return App(
        client=client,
        signing_secret=signing_secret or "socket-mode-does-not-sign",
        # Listeners ack first and keep working after the HTTP response has gone back.
        process_before_response=False,
        token_verification_enabled=verify_token,
        request_verification_enabled=signing_secret is not None,
        logger=logging.getLogger("slack_bolt"),
    )


def _answer(respond: Any, message: Message | None, replace: bool = False) -> None:
    if message is None:
        return
    response = respond(
        **render.render(message), response_type="ephemeral", replace_original=replace
    )
    # Bolt's respond() returns Slack's answer rather than raising on it.
    status = getattr(response, "status_code", 200)
    if status != 200:
        log.error("Slack refused an answer via response_url: HTTP %s", status)


def _user_channel(body: dict[str, Any]) -> tuple[str, str]:
    user = body.get("user", {}).get("id") or body.get("user_id", "")
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id", "")
    return str(user), str(channel)


class Handler(Protocol):
    """What the listeners hand their work to (the use cases' dispatcher)."""

    def command(self, user: str, channel: str, text: str, now: datetime) -> Message | None: ...
    def click(
        self, user: str, channel: str, text: str, now: datetime, action: str = "click"
    ) -> Message | None: ...


class WorkPool:
    """Where listeners send the work that follows an ack; failures are logged, never lost."""

    def __init__(self, workers: int = 16) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tpu-bot-work")

    def submit(self, job: Callable[[], None]) -> None:
        self._executor.submit(self._run, job)

    @staticmethod
    def _run(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:
            # The user already has their ack; the traceback goes to the log.
            log.exception("work after ack failed")

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


def register(
    app: App, handler: Handler, clock: Clock, work: WorkPool, metrics: Metrics | None = None
) -> None:
    """Attach the listeners: one for `/tpu`, one for every click. Each acks, queues, returns."""

    def counted(kind: str) -> None:
        if metrics is not None:
            metrics.commands.labels(kind=kind).inc()

    @app.command("/tpu")
    def on_tpu(ack: Any, command: dict[str, Any], respond: Any) -> None:
        ack()
        counted("command")
        user, channel = str(command.get("user_id", "")), str(command.get("channel_id", ""))
        text = str(command.get("text", ""))
        work.submit(lambda: _answer(respond, handler.command(user, channel, text, clock())))

    @app.action(re.compile(".*"))
    def on_click(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        ack()
        counted("click")
        user, channel = _user_channel(body)
        action_id = str(action.get("action_id", ""))
        kind = known(action_id)
        # An element the bot never renders carries nothing to run: the dispatcher refuses it.
        text = command_text(action) if kind is not None else ""

        def work_after_ack() -> None:
            reply = handler.click(user, channel, text, clock(), action=action_id[:40])
            page = isinstance(reply, NodePage | QueuedPage)
            _answer(respond, reply, replace=kind is not None and kind.replaces_original(page))

        work.submit(work_after_ack)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Bolt already acked; log the failure with its traceback (never the payload's secrets).
        log.error("listener failed: %s", error.__class__.__name__, exc_info=error)
