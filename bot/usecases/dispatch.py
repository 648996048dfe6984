"""One path for every command and every click: parse, authorize, run, audit, map errors.

A button carries the `/tpu` text it runs, so a click and a typed command meet here and go through
exactly the same checks; nothing in a payload is trusted beyond being text to parse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy
from bot.core.messages import Tone
from bot.core.noderef import NodeRefError
from bot.core.parsing import parse
from bot.core.scope import OutOfScope
from bot.usecases import actions, alerts, approvals, queries, queue, queue_requests
from bot.usecases.context import Actor, Deps
from bot.usecases.ports import Throttled, TpuError, Unavailable

Handler = Callable[[Deps, Actor, Any, datetime], m.Message | None]


def _help(deps: Deps, actor: Actor, command: cmd.Help, now: datetime) -> m.Message:
    return m.HelpText(command.topic)


def _decide(deps: Deps, actor: Actor, command: cmd.Decide, now: datetime) -> m.Message:
    return approvals.decide(deps, actor, command.approval_id, command.approve, now)


def _recreate(deps: Deps, actor: Actor, command: cmd.Recreate, now: datetime) -> m.Message | None:
    if command.runtime is not None:
        return queue_requests.recreate_on_runtime(deps, actor, command, now)
    return alerts.recreate(deps, actor, command, now)


# Queries that need the time (ages).
_TIMED_QUERIES: dict[type, Callable[[Deps, Any, datetime], m.Message]] = {
    cmd.QueueList: queue.list_queued,
    cmd.QueueGet: queue.get_queued,
    cmd.ListNodes: queries.list_nodes,
}
_QUERIES: dict[type, Callable[[Deps, Any], m.Message]] = {
    cmd.GetNode: queries.get_node,
    cmd.Ops: queries.list_operations,
    cmd.Types: queries.list_types,
    cmd.Versions: queries.list_versions,
    cmd.Audit: queries.audit_log,
}
# Commands whose use case writes its own audit entry (what was requested, started, decided).
_SELF_AUDITED: dict[type, Handler] = {
    cmd.Stop: actions.mutate,
    cmd.Start: actions.mutate,
    cmd.Reimage: queue_requests.reimage,
    cmd.Delete: actions.mutate,
    cmd.Create: actions.mutate,
    cmd.Recreate: _recreate,
    cmd.Label: queue_requests.label,
    cmd.QueueCreate: queue_requests.create,
    cmd.QueueDelete: queue_requests.delete,
    cmd.QueueReset: queue_requests.reset,
    cmd.Requeue: queue_requests.requeue,
    cmd.Decide: _decide,
    cmd.Acknowledge: alerts.acknowledge,
    cmd.Mute: alerts.mute,
}


class Dispatcher:
    """What the Slack listeners call, for commands and clicks alike."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def actor(self, user: str, channel: str) -> Actor:
        """Who is acting: the role comes from config and Slack's user groups, never a payload."""
        groups = self.deps.directory.groups_of(user)
        return Actor(user, channel, policy.role_of(user, groups, self.deps.config.roles))

    def command(self, user: str, channel: str, text: str, now: datetime) -> m.Message | None:
        """`/tpu text` typed by `user` in `channel`: the answer to show them (None: posted)."""
        try:
            command = parse(text)
        except cmd.UsageError as exc:
            self.deps.audit(now, user, "command", text[:200], "usage error", exc.problem)
            return m.Usage(exc.problem, exc.usage, exc.hint)
        return self.run(self.actor(user, channel), command, text, now)

    def click(
        self, user: str, channel: str, text: str, now: datetime, action: str = "click"
    ) -> m.Message | None:
        """A button or a picked option: the `/tpu` text it carries, through the same path."""
        if text.startswith(queries.REF + " "):
            recalled = queries.recall_long(self.deps, text)
            if recalled is None:
                self.deps.audit(now, user, f"click {action}"[:64], text[:200], "expired")
                return m.Notice(
                    "This listing is too old to page through; run the command again.",
                    Tone.WARNING,
                )
            text = recalled
        try:
            command = parse(text) if text.strip() else None
        except cmd.UsageError:
            command = None
        if command is None or isinstance(command, cmd.Help):
            self.deps.audit(now, user, f"click {action}"[:64], text[:200], "bad payload")
            return m.Notice("That button does not carry anything the bot can do.", Tone.ERROR)
        return self.run(self.actor(user, channel), command, text, now)

    def run(self, actor: Actor, command: cmd.Command, text: str, now: datetime) -> m.Message | None:
        deps = self.deps
        verdict = policy.authorize(
            actor.role, policy.required_role(command), policy.describe(command)
        )
        if not verdict:
            deps.audit(now, actor.user, "command", text[:200], "refused", verdict.reason)
            return m.Refusal(verdict.reason)
        try:
            return self._call(actor, command, text, now)
        except OutOfScope as exc:
            deps.audit(now, actor.user, "command", text[:200], "out of scope", exc.message)
            return m.Refusal(exc.message)
        except NodeRefError as exc:
            deps.audit(now, actor.user, "command", text[:200], "no such node", exc.message)
            words = text.split()
            sub = words[0] if words else "get"
            if sub == "queue":
                sub = "queue get"
            return m.NodeCandidates(exc.message, exc.candidates, sub)
        except Throttled as exc:
            deps.audit(now, actor.user, "command", text[:200], "throttled", exc.message)
            return m.Notice(
                "The bot is using its whole budget of TPU API requests for commands right now "
                f"(the watcher keeps its own); nothing was changed. Try again in "
                f"{max(1, round(exc.retry_after))} s.",
                Tone.WARNING,
            )
        except Unavailable as exc:
            deps.audit(now, actor.user, "command", text[:200], "api unavailable", exc.message)
            return m.Notice(
                "The TPU API is not answering right now; nothing was changed. "
                "Try again in a minute.",
                Tone.ERROR,
            )
        except TpuError as exc:
            deps.audit(now, actor.user, "command", text[:200], f"api {exc.status}", exc.message)
            return _refused_by_api(exc, text)

    def _call(
        self, actor: Actor, command: cmd.Command, text: str, now: datetime
    ) -> m.Message | None:
        handler = _SELF_AUDITED.get(type(command))
        if handler is not None:
            return handler(self.deps, actor, command, now)
        if isinstance(command, cmd.Help):
            answer: m.Message = _help(self.deps, actor, command, now)
        elif type(command) in _TIMED_QUERIES:
            answer = _TIMED_QUERIES[type(command)](self.deps, command, now)
        else:
            answer = _QUERIES[type(command)](self.deps, command)
        self.deps.audit(now, actor.user, "command", text[:200], "ok")
        return answer


def _refused_by_api(exc: TpuError, text: str) -> m.Message:
    """The API's refusal, said as what to do when it is about capacity, quota or a reservation."""
    zone = next((w.split("=", 1)[1] for w in text.split() if w.startswith("zone=")), "")
    advice = m.capacity_advice(exc.message, zone) if exc.status == "RESOURCE_EXHAUSTED" else None
    if advice is not None:
        return m.Notice(advice[0].upper() + advice[1:] + ".", Tone.ERROR)
    return m.Notice(f"The TPU API refused: {exc.message} ({exc.status})", Tone.ERROR)
