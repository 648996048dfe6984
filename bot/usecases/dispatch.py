"""One path for every command and every click: parse, authorize, run, audit, map errors.

A button carries the `/tpu` text it runs, so a click and a typed command meet here and go through
exactly the same checks; nothing in a payload is trusted beyond being text to parse. Every
subcommand is declared once (`bot.core.commands`) and run by the use case registered for it
(`bot.usecases.registry`); every outcome is audited here, whichever way it went.
"""

from __future__ import annotations

from datetime import datetime

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy
from bot.core.messages import Tone
from bot.core.noderef import NodeRefError
from bot.core.scope import OutOfScope
from bot.core.text import say

# The use cases register their handlers when imported.
from bot.usecases import (  # noqa: F401
    alerts,
    approvals,
    capacity,
    instances,
    nodes,
    queries,
    queued,
    usage,
)
from bot.usecases.context import Actor, Deps
from bot.usecases.ports import Throttled, TpuError, Unavailable
from bot.usecases.registry import HANDLERS, Outcome, missing


class IncompleteRegistry(Exception):
    """A declared subcommand has no use case to run it."""


class Dispatcher:
    """What the Slack listeners call, for commands and clicks alike."""

    def __init__(self, deps: Deps) -> None:
        unhandled = missing()
        if unhandled:
            raise IncompleteRegistry(f"no use case runs: {', '.join(unhandled)}")
        self.deps = deps

    def actor(self, user: str, channel: str) -> Actor:
        """Who is acting: the role comes from config and Slack's user groups, never a payload."""
        groups = self.deps.directory.groups_of(user)
        return Actor(user, channel, policy.role_of(user, groups, self.deps.config.roles))

    def home(self, user: str, now: datetime) -> None:
        """`user` opened the bot's Home tab: draw it (anyone with a role may look)."""
        actor = self.actor(user, "")
        if actor.role < policy.Role.VIEWER:
            return
        usage.publish_home(self.deps, user, now)

    def home_click(self, user: str, text: str, now: datetime, action: str = "click") -> None:
        """A button of the Home tab: the same path as any click; the answer goes to the person's
        direct messages with the bot (a Home view has nowhere else), then Home is redrawn."""
        answer = self.click(user, user, text, now, action)
        if answer is not None:
            self.direct(user, answer, now)
        self.home(user, now)

    def direct(self, user: str, message: m.Message, now: datetime) -> None:
        """`message` in the person's direct messages with the bot, through the outbox."""
        with self.deps.watch.begin() as conn:
            self.deps.outbox.post(conn, user, message, now=now)

    def command(self, user: str, channel: str, text: str, now: datetime) -> m.Message | None:
        """`/tpu text` typed by `user` in `channel`: the answer to show them (None: posted)."""
        try:
            command = cmd.parse(text)
        except cmd.UsageError as exc:
            self.deps.audit(now, user, "command", text[:200], "usage error", exc.problem)
            return m.Usage(exc.problem, exc.usage, exc.hint)
        return self.run(self.actor(user, channel), command, text, now)

    def click(
        self, user: str, channel: str, text: str, now: datetime, action: str = "click"
    ) -> m.Message | None:
        """A button or a picked option: the `/tpu` text it carries, through the same path."""
        recalled = self.deps.carrier.recall(text)
        if recalled is None:
            self.deps.audit(now, user, f"click {action}"[:64], text[:200], "expired")
            return m.Notice(
                "This listing is too old to page through; run the command again.", Tone.WARNING
            )
        try:
            command = cmd.parse(recalled) if recalled.strip() else None
        except cmd.UsageError:
            command = None
        if command is None or isinstance(command, cmd.Help):
            self.deps.audit(now, user, f"click {action}"[:64], text[:200], "bad payload")
            return m.Notice("That button does not carry anything the bot can do.", Tone.ERROR)
        return self.run(self.actor(user, channel), command, recalled, now)

    def run(self, actor: Actor, command: object, text: str, now: datetime) -> m.Message | None:
        spec = cmd.spec_of(command)
        verdict = policy.authorize(actor.role, spec.role, spec.does)
        if not verdict:
            outcome = Outcome(m.Refusal(verdict.reason), "refused", detail=verdict.reason)
        else:
            outcome = self._call(actor, command, text, now)
        action = outcome.action or (spec.verb if spec.verb and outcome.target else "command")
        target = outcome.target or text[:200]
        self.deps.audit(now, actor.user, action, target, outcome.outcome, outcome.detail)
        return outcome.then() if outcome.then is not None else outcome.answer

    def _call(self, actor: Actor, command: object, text: str, now: datetime) -> Outcome:
        try:
            return HANDLERS[type(command)](self.deps, actor, command, now)
        except OutOfScope as exc:
            return Outcome(m.Refusal(exc.message), "out of scope", detail=exc.message)
        except NodeRefError as exc:
            words = text.split()
            sub = words[0] if words else "get"
            if sub == "queue":
                sub = "queue get"
            answer: m.Message = m.NodeCandidates(exc.message, exc.candidates, sub)
            return Outcome(answer, "no such node", detail=exc.message)
        except Throttled as exc:
            answer = m.Notice(
                "The bot is using its whole budget of TPU API requests for commands right now "
                f"(the watcher keeps its own); nothing was changed. Try again in "
                f"{max(1, round(exc.retry_after))} s.",
                Tone.WARNING,
            )
            return Outcome(answer, "throttled", detail=exc.message)
        except Unavailable as exc:
            answer = m.Notice(
                "The TPU API is not answering right now; nothing was changed. "
                "Try again in a minute.",
                Tone.ERROR,
            )
            return Outcome(answer, "api unavailable", detail=exc.message)
        except TpuError as exc:
            return Outcome(_refused_by_api(exc, text), f"api {exc.status}", detail=exc.message)


def _refused_by_api(exc: TpuError, text: str) -> m.Message:
    """The API's refusal, said as what to do when it is about capacity, quota or a reservation."""
    zone = next((w.split("=", 1)[1] for w in text.split() if w.startswith("zone=")), "")
    advice = m.capacity_advice(exc.message, zone) if exc.status == "RESOURCE_EXHAUSTED" else None
    if advice is not None:
        return m.Notice(advice[0].upper() + advice[1:] + ".", Tone.ERROR)
    return m.Notice(say("The TPU API refused: ", exc.message, f" ({exc.status})"), Tone.ERROR)
