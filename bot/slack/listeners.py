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
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.core.messages import Message, NodePage
from bot.runtime.metrics import Metrics
from bot.slack import blocks as render
from bot.usecases import Service

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


def _value(body: dict[str, Any]) -> str:
    action = (body.get("actions") or [{}])[0]
    if "selected_option" in action:
        return str((action.get("selected_option") or {}).get("value", ""))
    return str(action.get("value", ""))


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
    app: App, service: Service, clock: Clock, work: WorkPool, metrics: Metrics | None = None
) -> None:
    """Attach every listener. Each acks, queues its work, and returns."""

    def counted(kind: str) -> None:
        if metrics is not None:
            metrics.commands.labels(kind=kind).inc()

    @app.command("/tpu")
    def on_tpu(ack: Any, command: dict[str, Any], respond: Any) -> None:
        ack()
        counted("command")
        user, channel = str(command.get("user_id", "")), str(command.get("channel_id", ""))
        text = str(command.get("text", ""))
        work.submit(lambda: _answer(respond, service.run_command(user, channel, text, clock())))

    # A click: ack, then run `call(user, channel, value, action_id)` on the work pool.
    Click = Callable[[str, str, str, str], Message | None]

    def on_click(
        action: str | re.Pattern[str],
        call: Click,
        replace: Callable[[Message | None], bool] = lambda reply: False,
    ) -> None:
        @app.action(action)
        def listener(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
            ack()
            counted("click")
            user, channel = _user_channel(body)
            value, action_id = _value(body), str(action.get("action_id", ""))

            def work_after_ack() -> None:
                reply = call(user, channel, value, action_id)
                _answer(respond, reply, replace=replace(reply))

            work.submit(work_after_ack)

    node_buttons = {render.STOP: "stop", render.START: "start", render.DELETE: "delete"}
    on_click(
        re.compile(f"^({'|'.join(node_buttons)})$"),
        lambda u, c, v, a: service.click_node_action(u, c, node_buttons[a], v, clock()),
    )
    on_click(render.REIMAGE, lambda u, c, v, a: service.click_reimage(u, c, v, clock()))
    on_click(
        render.REIMAGE_VERSION,
        lambda u, c, v, a: service.pick_reimage_version(u, c, v, clock()),
        replace=lambda reply: True,  # the picker gives way to what became of the request
    )
    on_click(
        re.compile(f"^{render.LIST_PAGE}(_prev)?$"),
        lambda u, c, v, a: service.click_page(u, c, v, clock()),
        # Only another page replaces the listing; a refusal is said beside it.
        replace=lambda reply: isinstance(reply, NodePage),
    )
    on_click(
        re.compile(f"^({render.APPROVE}|{render.DENY})$"),
        lambda u, c, v, a: service.decide(u, c, v, a == render.APPROVE, clock()),
    )
    on_click(render.ACK, lambda u, c, v, a: service.acknowledge(u, c, v, clock()))
    on_click(render.MUTE, lambda u, c, v, a: service.mute(u, c, v, clock()))
    on_click(render.RECREATE, lambda u, c, v, a: service.recreate(u, c, v, clock()))

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Bolt already acked; log the failure with its traceback (never the payload's secrets).
        log.error("listener failed: %s", error.__class__.__name__, exc_info=error)
