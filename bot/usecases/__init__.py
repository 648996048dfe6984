"""Use cases. Listeners and the scheduler call `Service`; it returns neutral messages."""

from __future__ import annotations

from datetime import datetime

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy
from bot.core.noderef import NodeRefError, parse_ref
from bot.core.policy import Role
from bot.tpu.client import TpuError, Unavailable
from bot.usecases import actions, alerts, approvals, operations, queries, watch
from bot.usecases.ports import Actor, Chat, ChatError, Deps, Directory, TpuApi

__all__ = ["Actor", "Chat", "ChatError", "Deps", "Directory", "Service", "TpuApi"]

_QUERIES = {
    cmd.ListNodes: queries.list_nodes,
    cmd.GetNode: queries.get_node,
    cmd.Ops: queries.list_operations,
    cmd.Types: queries.list_types,
    cmd.Versions: queries.list_versions,
    cmd.Audit: queries.audit_log,
}


def _describe(command: cmd.Command) -> str:
    if isinstance(command, cmd.MUTATIONS):
        return f"{cmd.ACTION_OF[type(command)]} nodes"
    return "read the audit log" if isinstance(command, cmd.Audit) else "view nodes"


class Service:
    """Every use case, behind one object the listeners and the scheduler share."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def actor(self, user: str, channel: str) -> Actor:
        """Who is acting: the role comes from config and Slack's user groups, never the payload."""
        groups = self.deps.directory.groups_of(user)
        return Actor(user, channel, policy.role_of(user, groups, self.deps.config.roles))

    # ----- commands --------------------------------------------------------------------------

    def run_command(self, user: str, channel: str, text: str, now: datetime) -> m.Message | None:
        """`/tpu text` from `user` in `channel`: the answer to show them (None: already posted)."""
        try:
            command = cmd.parse(text)
        except cmd.UsageError as exc:
            self.deps.audit(now, user, "command", text[:200], "usage error", exc.problem)
            return m.Usage(exc.problem, exc.usage, exc.hint)
        return self.run(self.actor(user, channel), command, text, now)

    def run(self, actor: Actor, command: cmd.Command, text: str, now: datetime) -> m.Message | None:
        deps = self.deps
        what = _describe(command)
        verdict = policy.authorize(actor.role, policy.required_role(command), what)
        if not verdict:
            deps.audit(now, actor.user, "command", text[:200], "refused", verdict.reason)
            return m.Refusal(verdict.reason)
        try:
            if isinstance(command, cmd.Help):
                deps.audit(now, actor.user, "command", text[:200], "ok")
                return m.HelpText(command.topic)
            if isinstance(command, cmd.MUTATIONS):
                return actions.mutate(deps, actor, command, now)
            answer = _QUERIES[type(command)](deps, command)  # type: ignore[operator]
            deps.audit(now, actor.user, "command", text[:200], "ok")
            return answer
        except NodeRefError as exc:
            deps.audit(now, actor.user, "command", text[:200], "no such node", exc.message)
            sub = text.split()[0] if text.split() else "get"
            return m.NodeCandidates(exc.message, exc.candidates, sub)
        except Unavailable as exc:
            deps.audit(now, actor.user, "command", text[:200], "api unavailable", exc.message)
            return m.Notice(
                "The TPU API is not answering right now; nothing was changed. "
                "Try again in a minute.",
                "error",
            )
        except TpuError as exc:
            deps.audit(now, actor.user, "command", text[:200], f"api {exc.status}", exc.message)
            return m.Notice(f"The TPU API refused: {exc.message} ({exc.status})", "error")

    # ----- clicks ----------------------------------------------------------------------------

    def click_node_action(
        self, user: str, channel: str, action: str, value: str, now: datetime
    ) -> m.Message | None:
        """A Stop/Start/Delete button: the same path as typing the command."""
        try:
            ref = parse_ref(value)
        except NodeRefError as exc:
            self.deps.audit(now, user, f"click {action}", value[:200], "bad payload", exc.message)
            return m.Notice("That button no longer points at a node.", "error")
        return self.run_command(user, channel, f"{action} {ref.text}", now)

    def click_reimage(self, user: str, channel: str, value: str, now: datetime) -> m.Message | None:
        actor = self.actor(user, channel)
        verdict = policy.authorize(actor.role, Role.OPERATOR, "reimage nodes")
        if not verdict:
            self.deps.audit(now, user, "click reimage", value[:200], "refused", verdict.reason)
            return m.Refusal(verdict.reason)
        try:
            node = self.deps.tpu.resolve(parse_ref(value).text, self.deps.scopes)
            versions = self.deps.tpu.list_tensorflow_versions(node.project, node.zone)
        except NodeRefError as exc:
            return m.NodeCandidates(exc.message, exc.candidates, "reimage")
        except TpuError as exc:
            return m.Notice(f"The TPU API refused: {exc.message}", "error")
        return m.ReimagePicker(node, tuple(v.version for v in versions))

    def pick_reimage_version(
        self, user: str, channel: str, value: str, now: datetime
    ) -> m.Message | None:
        ref, _, version = value.partition("|")
        return self.run_command(user, channel, f"reimage {ref} {version}", now)

    def click_page(self, user: str, channel: str, value: str, now: datetime) -> m.Message | None:
        """Next/Previous: the button carries a listing query; anything else is refused."""
        try:
            command = cmd.parse(value)
        except cmd.UsageError:
            command = None
        if not isinstance(command, cmd.ListNodes):
            self.deps.audit(now, user, "click page", value[:200], "bad payload")
            return m.Notice("That button does not carry a listing.", "error")
        return self.run(self.actor(user, channel), command, value, now)

    def decide(
        self, user: str, channel: str, approval_id: str, approve: bool, now: datetime
    ) -> m.Message:
        return approvals.decide(self.deps, self.actor(user, channel), approval_id, approve, now)

    def acknowledge(self, user: str, channel: str, incident_id: str, now: datetime) -> m.Message:
        return alerts.acknowledge(self.deps, self.actor(user, channel), incident_id, now)

    def mute(self, user: str, channel: str, incident_id: str, now: datetime) -> m.Message:
        return alerts.mute(self.deps, self.actor(user, channel), incident_id, now)

    def recreate(self, user: str, channel: str, value: str, now: datetime) -> m.Message | None:
        return alerts.recreate(self.deps, self.actor(user, channel), value, now)

    # ----- scheduled work --------------------------------------------------------------------

    def expire_approvals(self, now: datetime) -> int:
        return approvals.expire(self.deps, now)

    def track_operations(self, now: datetime) -> int:
        return operations.track(self.deps, now)

    def poll_nodes(self, now: datetime) -> watch.TickReport:
        return watch.poll(self.deps, now)
