"""Roles, approval rules and the re-check before acting: tables with a fixed `now`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import RolesConfig
from bot.core import commands as c
from bot.core.models import Node, NodeState
from bot.core.noderef import NodeRef
from bot.core.policy import (
    Role,
    Seen,
    authorize,
    can_decide,
    groups_in,
    precheck,
    recheck,
    required_role,
    role_of,
)
from bot.slack.blocks.kit import md
from devstack.clock import T0

ROLES = RolesConfig(
    viewer=("*",), operator=("S0PLAT",), approver=("S0ONCALL", "U0BOB"), admin=("U0ROOT",)
)


@pytest.mark.parametrize(
    ("user", "groups", "role"),
    [
        ("U0ANY", set(), Role.VIEWER),
        ("U0OP", {"S0PLAT"}, Role.OPERATOR),
        ("U0OP", {"S0PLAT", "S0ONCALL"}, Role.APPROVER),
        ("U0BOB", set(), Role.APPROVER),
        ("U0ROOT", set(), Role.ADMIN),
    ],
)
def test_role_of(user: str, groups: set[str], role: Role) -> None:
    assert role_of(user, groups, ROLES) is role


def test_no_role_without_a_wildcard() -> None:
    strict = RolesConfig(viewer=("S0TEAM",))
    assert role_of("U0X", set(), strict) is Role.NONE
    assert groups_in(ROLES) == {"S0PLAT", "S0ONCALL"}


@pytest.mark.parametrize(
    ("command", "needed"),
    [
        (c.ListNodes(), Role.VIEWER),
        (c.Help(), Role.VIEWER),
        (c.Stop(NodeRef("n")), Role.OPERATOR),
        (c.Create("n", "us-east1-d", "v2-8", "2.12.0"), Role.OPERATOR),
        (c.Audit(), Role.OPERATOR),
    ],
)
def test_required_role(command: c.Command, needed: Role) -> None:
    assert required_role(command) is needed
    assert not authorize(Role(needed - 1), needed, "do it")
    assert authorize(needed, needed, "do it")


NOW = T0 + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("user", "role", "status", "expires", "allowed", "reason"),
    [
        ("U2", Role.APPROVER, "pending", NOW + timedelta(minutes=1), True, "approver"),
        ("U1", Role.APPROVER, "pending", NOW + timedelta(minutes=1), False, "own request"),
        ("U2", Role.OPERATOR, "pending", NOW + timedelta(minutes=1), False, "*approver* role"),
        ("U2", Role.APPROVER, "denied", NOW + timedelta(minutes=1), False, "already denied"),
        ("U2", Role.ADMIN, "pending", NOW, False, "expired"),
    ],
)
def test_can_decide(
    user: str, role: Role, status: str, expires: object, allowed: bool, reason: str
) -> None:
    verdict = can_decide(
        user=user, role=role, requester="U1", status=status, expires_at=expires, now=NOW
    )  # type: ignore[arg-type]
    assert bool(verdict) is allowed and reason in md(verdict.reason)


def n(
    state: NodeState = NodeState.READY,
    kind: str = "v3-8",
    version: str = "2.12.0",
    created: object = T0,
) -> Node:
    return Node("projects/p/locations/z-a/nodes/x", kind, version, state, create_time=created)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("action", "node", "allowed", "reason"),
    [
        ("stop", n(), True, "allows"),
        ("stop", n(kind="v3-32"), False, "TPU Pod"),
        ("stop", n(NodeState.STOPPED), False, "needs it READY"),
        ("start", n(NodeState.STOPPED), True, "allows"),
        ("start", n(NodeState.PREEMPTED), False, "recreate"),
        ("start", n(NodeState.TERMINATED), False, "recreate"),
        ("reimage", n(NodeState.CREATING), False, "needs it READY"),
        ("delete", n(NodeState.PREEMPTED), True, "allows"),
        ("delete", n(NodeState.DELETING), False, "already being deleted"),
    ],
)
def test_precheck(action: str, node: Node, allowed: bool, reason: str) -> None:
    verdict = precheck(action, node)
    assert bool(verdict) is allowed and reason in verdict.reason


SEEN = Seen("READY", T0, "2.12.0")


@pytest.mark.parametrize(
    ("action", "seen", "now", "allowed", "reason"),
    [
        ("stop", SEEN, n(), True, "allows"),
        ("stop", SEEN, None, False, "no longer exists"),
        ("stop", SEEN, n(NodeState.PREEMPTED), False, "READY when requested and is PREEMPTED"),
        ("stop", SEEN, n(created=T0 + timedelta(hours=1)), False, "created again"),
        ("stop", SEEN, n(version="2.11.0"), False, "reimaged"),
        ("create", None, None, True, "still free"),
        ("create", None, n(), False, "exists now"),
    ],
)
def test_recheck(
    action: str, seen: Seen | None, now: Node | None, allowed: bool, reason: str
) -> None:
    verdict = recheck(action, seen, now)
    assert bool(verdict) is allowed and reason in verdict.reason
