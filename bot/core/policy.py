"""Pure rules: who may do what, what needs approval, whether an approved action may still run."""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from bot.core import commands as cmd
from bot.core.commands import SUBCOMMANDS, spec_of
from bot.core.models import Node, NodeState
from bot.core.queued import STUCK, QueuedResource, QueuedState
from bot.core.roles import Role
from bot.core.text import Code, Said, Strong, say
from bot.core.watching.diff import TROUBLE


class RoleLists(Protocol):
    """Who holds each role: Slack user ids, user group ids, or "*" (the config's `roles`)."""

    @property
    def viewer(self) -> Sequence[str]: ...
    @property
    def operator(self) -> Sequence[str]: ...
    @property
    def approver(self) -> Sequence[str]: ...
    @property
    def admin(self) -> Sequence[str]: ...


def role_of(user: str, groups: Collection[str], roles: RoleLists) -> Role:
    """The highest role that lists the user, one of their user groups, or everyone ("*")."""
    return max(granted(user, groups, roles), default=(Role.NONE, ""))[0]


def granted(user: str, groups: Collection[str], roles: RoleLists) -> list[tuple[Role, str]]:
    """Every role the user holds, each with the entry of the config that grants it (their own
    id, one of their user groups, or "*"): the "why" of `/tpu whoami`."""
    found = []
    for role, members in (
        (Role.ADMIN, roles.admin),
        (Role.APPROVER, roles.approver),
        (Role.OPERATOR, roles.operator),
        (Role.VIEWER, roles.viewer),
    ):
        for principal in (user, *sorted(groups), "*"):
            if principal in members:
                found.append((role, principal))
                break
    return found


def groups_in(roles: RoleLists) -> set[str]:
    """The user group ids the roles name: whose members must be looked up."""
    every = (*roles.viewer, *roles.operator, *roles.approver, *roles.admin)
    return {p for p in every if p.startswith("S")}


def required_role(command: cmd.Command) -> Role:
    return spec_of(command).role


def describe(command: cmd.Command) -> str:
    """What a command does, for a refusal ("You need the operator role to stop nodes")."""
    return spec_of(command).does


@dataclass(frozen=True)
class Verdict:
    """A yes or no, with the reason to log and to tell the person."""

    allowed: bool
    reason: Said

    def __bool__(self) -> bool:
        return self.allowed


def authorize(role: Role, needed: Role, what: str) -> Verdict:
    if role >= needed:
        return Verdict(True, say(f"{role.label} may {what}"))
    have = (
        say("; you have ", Strong(role.label), ".")
        if role > Role.NONE
        else "; you have no role here."
    )
    return Verdict(False, say("You need the ", Strong(needed.label), f" role to {what}", have))


class ApprovalRules(Protocol):
    """Which actions wait for an approver (the config's `approvals`)."""

    @property
    def required_for(self) -> Collection[str]: ...


def needs_approval(action: str, rules: ApprovalRules) -> bool:
    """Whether `action` (a Verb) waits for an approver, by the subcommand's approval keys."""
    spec = next((s for s in SUBCOMMANDS if s.verb == action), None)
    keys = spec.approval_keys if spec is not None else (action,)
    return any(key in rules.required_for for key in keys)


def can_decide(
    *, user: str, role: Role, requester: str, status: str, expires_at: datetime, now: datetime
) -> Verdict:
    """Whether `user` may approve or deny a request now."""
    if role < Role.APPROVER:
        return authorize(role, Role.APPROVER, "approve or deny requests")
    if user == requester:
        return Verdict(False, "You cannot decide your own request; another approver must.")
    if status != "pending":
        return Verdict(False, f"This request is already {status}.")
    if now >= expires_at:
        return Verdict(False, "This request has expired.")
    return Verdict(True, "approver, not the requester, request pending")


# What state each action expects the node to be in; anything else at execution time refuses it.
_EXPECTED: Mapping[str, Collection[NodeState]] = {
    "stop": (NodeState.READY,),
    "start": (NodeState.STOPPED,),
    "reimage": (NodeState.READY,),
}


def precheck(action: str, node: Node, *, runtime: bool = False) -> Verdict:
    """Would the API accept this action on this node? Said before asking for approval.
    `runtime`: a recreate on another runtime version, which any node but a deleting one takes."""
    if action == "recreate" and runtime:
        return precheck("delete", node)
    if action == "stop" and node.is_multi_host:
        return Verdict(
            False, f"{node.accelerator_type} is a TPU Pod: only single-host nodes can be stopped."
        )
    if action == "start" and node.state in (NodeState.PREEMPTED, NodeState.TERMINATED):
        return Verdict(
            False,
            f"The node is {node.state.value} and cannot be started again; "
            "delete and recreate it instead.",
        )
    if action == "requeue" and node.state not in (NodeState.PREEMPTED, NodeState.TERMINATED):
        return Verdict(
            False, f"The node is {node.state.value}; only a preempted spot VM is requeued."
        )
    if action == "recreate" and node.state not in (NodeState.PREEMPTED, NodeState.TERMINATED):
        return Verdict(
            False,
            f"The node is {node.state.value}; only PREEMPTED or TERMINATED nodes are recreated.",
        )
    expected = _EXPECTED.get(action)
    if expected and node.state not in expected:
        wanted = " or ".join(s.value for s in expected)
        return Verdict(False, f"The node is {node.state.value}; {action} needs it {wanted}.")
    if action == "delete" and node.state is NodeState.DELETING:
        return Verdict(False, "The node is already being deleted.")
    return Verdict(True, f"{node.state.value} allows {action}")


@dataclass(frozen=True)
class Seen:
    """What the requester saw of the node when they asked."""

    state: str
    create_time: datetime | None
    version: str


def recheck(action: str, seen: Seen | None, now: Node | None, *, runtime: bool = False) -> Verdict:
    """Before an approved action runs: refuse it if the node changed in a way that matters."""
    if action == "create":
        if now is not None:
            return Verdict(False, "A node with this name exists now.")
        return Verdict(True, "the name is still free")
    if now is None:
        return Verdict(False, "The node no longer exists.")
    if seen is not None:
        if seen.create_time is not None and now.create_time != seen.create_time:
            return Verdict(False, "The node was deleted and created again since the request.")
        if now.state.value != seen.state:
            return Verdict(
                False, f"The node was {seen.state} when requested and is {now.state.value} now."
            )
        if seen.version and now.tensorflow_version != seen.version:
            return Verdict(False, "The node was reimaged since the request.")
    return precheck(action, now, runtime=runtime)


def precheck_queued(
    action: str, queued: QueuedResource, force: bool = False, nodes: int = 0
) -> Verdict:
    """Would the API accept this action on this queued resource (`nodes`: how many of its nodes
    exist now)? Said before anyone is asked."""
    state = queued.state
    if state in (QueuedState.DELETING,):
        return Verdict(False, "The queued resource is already being deleted.")
    if action in ("queue-reset", "requeue") and state not in STUCK:
        return Verdict(
            False,
            f"The request is {state.value}; only FAILED or SUSPENDED ones can be "
            + ("reset." if action == "queue-reset" else "requeued."),
        )
    holds_nodes = state not in (QueuedState.ACCEPTED, *STUCK) and nodes > 0
    if action == "queue-delete" and holds_nodes and not force:
        return Verdict(
            False,
            say(
                f"The request is {state.value} and has {nodes} node(s): deleting it deletes "
                "them. Add ",
                Code("force"),
                " to do that.",
            ),
        )
    return Verdict(True, f"{state.value} allows {action}")


def recheck_queued(
    action: str, seen_state: str, now: QueuedResource | None, force: bool = False, nodes: int = 0
) -> Verdict:
    """Before an approved queued-resource action runs: refuse it if the request changed."""
    if action == "queue-create":
        if now is not None:
            return Verdict(False, "A queued resource with this name exists now.")
        return Verdict(True, "the name is still free")
    if now is None:
        return Verdict(False, "The queued resource no longer exists.")
    if seen_state and now.state.value != seen_state:
        return Verdict(False, f"The request was {seen_state} when asked and is {now.state.value}.")
    return precheck_queued(action, now, force, nodes)


# ----- watching: whether and how to tell people about a node event ---------------------------


class StormKey(NamedTuple):
    """What groups a tick's incidents into one storm digest: their zone and their channel."""

    zone: str
    channel: str


class Act(enum.StrEnum):
    OPEN = "open"  # a root message in the routed channel
    DIGEST = "digest"  # part of one storm digest root for its zone
    REPLY = "reply"  # a reply in the open incident's thread
    RESOLVE = "resolve"  # reply, edit the root to resolved, close the incident
    NOTICE = "notice"  # a one-off root message, no incident
    FLAPPING = "flapping"  # one note, then quiet until the node is stable
    SUPPRESS = "suppress"  # nothing to post


@dataclass(frozen=True)
class OpenIncident:
    """What the decision needs to know of a node's open incident."""

    kind: str
    opened_at: datetime
    muted_until: datetime | None = None
    flapping: bool = False


@dataclass(frozen=True)
class Decision:
    act: Act
    reason: str
    quiet: bool = False  # change the state but post nothing (muted)


def decide(
    kind: str,
    incident: OpenIncident | None,
    *,
    now: datetime,
    storm: bool = False,
    recent_opens: int = 0,
    flap_threshold: int = 3,
) -> Decision:
    """Pure: what to do about one event (`kind` is a health.EventKind value)."""
    trouble = kind in {k.value for k in TROUBLE}
    muted = incident is not None and incident.muted_until is not None and now < incident.muted_until
    if kind == "appeared":
        return Decision(Act.SUPPRESS, "a new node is not an incident")
    if incident is not None and incident.flapping:
        return Decision(Act.SUPPRESS, "flapping: quiet until stable")
    if trouble:
        if incident is not None:
            if muted:
                return Decision(Act.SUPPRESS, f"muted until {incident.muted_until:%H:%M} UTC")
            return Decision(Act.REPLY, f"update of the open {incident.kind} incident")
        if kind == "symptom":
            return Decision(Act.SUPPRESS, "a symptom on a node with no incident is not one")
        if recent_opens >= flap_threshold:
            return Decision(Act.FLAPPING, f"{recent_opens} incidents recently: flapping")
        if storm:
            return Decision(Act.DIGEST, "storm: many incidents in this zone in one tick")
        return Decision(Act.OPEN, f"new {kind} incident")
    if kind in ("recovered", "resolved"):
        if incident is None:
            return Decision(Act.SUPPRESS, "nothing open for this node")
        return Decision(Act.RESOLVE, f"{kind} after {incident.kind}", quiet=muted)
    if kind == "disappeared":
        if incident is not None:
            return Decision(Act.RESOLVE, "the node is gone", quiet=muted)
        return Decision(Act.NOTICE, "a node disappeared without the bot deleting it")
    return Decision(Act.SUPPRESS, f"no rule for {kind}")


def route(
    project: str, zone: str, labels: Mapping[str, str], routes: Sequence[Any], default: str
) -> str:
    """The channel for a node: the first route that matches, else the default."""
    for candidate in routes:
        match = candidate.match
        if match.project not in (None, project) or match.zone not in (None, zone):
            continue
        if all(labels.get(k) == v for k, v in match.labels.items()):
            return str(candidate.channel)
    return default
