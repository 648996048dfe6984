"""Thin Bolt listeners: decide at once (bot.slack.ingress), ack, answer later via response_url.

A listener runs in the thread that answers Slack (`process_before_response=True`): it only asks
the ingress whether the request is admitted (identity, response_url, rate, room in the queue),
acks with the answer, and returns; the work - dispatch, listing, rendering, the POST to
response_url (`serve_request`) - runs on the bounded work pool (bot.slack.work), in this
process (`InProcess`) or in a child (bot.runtime.workers). Bolt's other mode hands each listener
to a second pool and polls for the ack every 10 ms, which under a burst made acks wait behind
each other and behind the work.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from slack_bolt import App
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.core.messages import Message, NodePage, Notice, QueuedPage, Tone
from bot.runtime.metrics import Metrics
from bot.slack import blocks as render
from bot.slack.actions import command_text, known
from bot.slack.ingress import Ingress, identity_guard
from bot.slack.work import Kind, Request

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def build_app(client: WebClient, signing_secret: str | None, *, verify_token: bool = True) -> App:
    """A Bolt app on an injected WebClient. The signing secret is what HTTP mode verifies."""
    return App(
        client=client,
        signing_secret=signing_secret or "socket-mode-does-not-sign",
        # Listeners only decide and queue: they run where the request is answered.
        process_before_response=True,
        token_verification_enabled=verify_token,
        request_verification_enabled=signing_secret is not None,
        logger=logging.getLogger("slack_bolt"),
    )


def _answer(response_url: str, message: Message | None, replace: bool = False) -> None:
    if message is None:
        return
    respond = Respond(response_url=response_url)
    response = respond(
        **render.render(message), response_type="ephemeral", replace_original=replace
    )
    # respond() returns Slack's answer rather than raising on it.
    status = getattr(response, "status_code", 200)
    if status != 200:
        log.error("Slack refused an answer via response_url: HTTP %s", status)


def inner(body: dict[str, Any], key: str, field: str) -> str:
    """`body[key][field]` as text, "" when either is missing or not what Slack sends (a payload
    is untrusted input: `"user": null` must not turn into a 500)."""
    outer = body.get(key)
    value = outer.get(field) if isinstance(outer, dict) else None
    return value if isinstance(value, str) else ""


def _user_channel(body: dict[str, Any]) -> tuple[str, str]:
    user = inner(body, "user", "id") or body.get("user_id") or ""
    channel = inner(body, "channel", "id") or body.get("channel_id") or ""
    return str(user), str(channel)


class Handler(Protocol):
    """What the listeners hand their work to (the use cases' dispatcher)."""

    def command(self, user: str, channel: str, text: str, now: datetime) -> Message | None: ...
    def click(
        self, user: str, channel: str, text: str, now: datetime, action: str = "click"
    ) -> Message | None: ...
    def home(self, user: str, now: datetime) -> None: ...
    def home_click(self, user: str, text: str, now: datetime, action: str = "click") -> None: ...
    def direct(self, user: str, message: Message, now: datetime) -> None: ...


def _ack(ack: Any, text: str | None) -> None:
    if text is None:
        ack()
    else:
        ack(text=text, response_type="ephemeral")


def register(
    app: App, handler: Handler, clock: Clock, ingress: Ingress, metrics: Metrics | None = None
) -> None:
    """Attach the identity guard and the listeners: one for `/tpu`, one for every click. Each
    asks the ingress, acks with its answer, and returns; `handler` is used by `InProcess`."""
    app.use(identity_guard(ingress))

    def counted(kind: str) -> None:
        if metrics is not None:
            metrics.commands.labels(kind=kind).inc()

    @app.command("/tpu")
    def on_tpu(ack: Any, command: dict[str, Any]) -> None:
        counted("command")
        request = Request(
            Kind.COMMAND,
            str(command.get("user_id", "")),
            str(command.get("channel_id", "")),
            str(command.get("text", "")),
            str(command.get("response_url") or ""),
        )
        _ack(ack, ingress.admit(request))

    @app.action(re.compile(".*"))
    def on_click(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        counted("click")
        user, channel = _user_channel(body)
        action_id = str(action.get("action_id", ""))
        # An element the bot never renders carries nothing to run: the dispatcher refuses it.
        text = command_text(action) if known(action_id) is not None else ""
        url = str(body.get("response_url") or "")
        _ack(ack, ingress.admit(Request(Kind.CLICK, user, channel, text, url, action_id[:40])))

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Log the failure with its traceback (never the payload's secrets).
        log.error("listener failed: %s", error.__class__.__name__, exc_info=error)


# What a person is told when the work after their ack failed in a way nobody caught (a bug, the
# database gone): it may have got as far as a change, so it says so.
WORK_FAILED = Notice(
    "Something went wrong in the bot while running this, so it may or may not have run: check "
    "before trying again. The details are in the bot's log.",
    Tone.ERROR,
)


def serve_request(handler: Handler, clock: Clock, request: Request) -> None:
    """The work after the ack: dispatch, render, answer through response_url. An error nobody
    caught is logged with its traceback, and the person is still answered (a Home tab click in
    their DMs; opening the tab is drawn again at the next open)."""
    try:
        _serve(handler, clock, request)
    except Exception:
        log.exception("work after ack failed (%s)", request.kind.value)
        if request.kind.answers_by_response_url:
            _answer(request.response_url, WORK_FAILED)
        elif request.kind is Kind.HOME_CLICK:  # its answer would have gone to their DMs
            handler.direct(request.user, WORK_FAILED, clock())


def _serve(handler: Handler, clock: Clock, request: Request) -> None:
    if request.kind is Kind.COMMAND:
        message = handler.command(request.user, request.channel, request.text, clock())
        _answer(request.response_url, message)
        return
    if request.kind is Kind.HOME:
        handler.home(request.user, clock())
        return
    if request.kind is Kind.HOME_CLICK:
        handler.home_click(request.user, request.text, clock(), action=request.action)
        return
    kind = known(request.action)
    reply = handler.click(request.user, request.channel, request.text, clock(), request.action)
    page = isinstance(reply, NodePage | QueuedPage)
    _answer(request.response_url, reply, replace=kind is not None and kind.replaces_original(page))


class InProcess:
    """The work on the bot's own threads (a Backend): tests and a bot given its collaborators."""

    def __init__(self, handler: Handler, clock: Clock) -> None:
        self.handler = handler
        self.clock = clock

    def start(self) -> None:
        pass

    def run(self, request: Request) -> None:
        serve_request(self.handler, self.clock, request)

    def close(self) -> None:
        pass
