"""Pure rules for the v2 actions: queued-resource prechecks and rechecks, which verbs need an
approval, roles, and capacity problems said as what to do."""

from __future__ import annotations

import pytest

from bot.config import ApprovalsConfig
from bot.core import commands as c
from bot.core import messages as m
from bot.core.models import Node, NodeState
from bot.core.noderef import NodeRef
from bot.core.policy import (
    Role,
    describe,
    needs_approval,
    precheck,
    precheck_queued,
    recheck_queued,
    required_role,
)
from bot.core.queued import QueuedResource, QueuedState
from bot.slack.blocks import render

QR = "projects/ml-infra/locations/us-east5-a/queuedResources/pretrain"


def qr(state: QueuedState) -> QueuedResource:
    return QueuedResource(name=QR, state=state)


@pytest.mark.parametrize(
    ("action", "state", "force", "nodes", "allowed", "needle"),
    [
        ("queue-reset", QueuedState.FAILED, False, 0, True, "FAILED allows"),
        ("queue-reset", QueuedState.SUSPENDED, False, 0, True, "SUSPENDED allows"),
        ("queue-reset", QueuedState.ACTIVE, False, 1, False, "can be reset"),
        ("queue-reset", QueuedState.WAITING_FOR_RESOURCES, False, 0, False, "can be reset"),
        ("requeue", QueuedState.SUSPENDED, True, 1, True, "allows"),
        ("requeue", QueuedState.ACTIVE, True, 1, False, "can be requeued"),
        ("queue-delete", QueuedState.ACTIVE, False, 2, False, "Add `force`"),
        ("queue-delete", QueuedState.ACTIVE, True, 2, True, "allows"),
        ("queue-delete", QueuedState.WAITING_FOR_RESOURCES, False, 0, True, "allows"),
        ("queue-delete", QueuedState.SUSPENDED, False, 1, True, "allows"),
        ("queue-delete", QueuedState.DELETING, True, 0, False, "already being deleted"),
    ],
)
def test_precheck_queued(
    action: str, state: QueuedState, force: bool, nodes: int, allowed: bool, needle: str
) -> None:
    verdict = precheck_queued(action, qr(state), force, nodes)
    assert bool(verdict) is allowed and needle in verdict.reason


def test_recheck_queued_refuses_what_changed_since_the_request() -> None:
    assert not recheck_queued("queue-create", "", qr(QueuedState.ACCEPTED))
    assert recheck_queued("queue-create", "", None)
    assert "no longer exists" in recheck_queued("queue-reset", "FAILED", None).reason
    moved = recheck_queued("queue-reset", "FAILED", qr(QueuedState.ACCEPTED))
    assert not moved and "FAILED when asked" in moved.reason
    assert recheck_queued("queue-reset", "FAILED", qr(QueuedState.FAILED))


def test_a_requeued_vm_must_be_preempted_and_a_runtime_recreate_takes_any_live_node() -> None:
    name = "projects/ml-infra/locations/us-east5-a/nodes/vm"
    ready = Node(name=name, accelerator_type="v5p-8", software_version="r", state=NodeState.READY)
    assert not precheck("requeue", ready)
    assert not precheck("recreate", ready)
    assert precheck("recreate", ready, runtime=True)
    deleting = Node(
        name=name, accelerator_type="v5p-8", software_version="r", state=NodeState.DELETING
    )
    assert not precheck("recreate", deleting, runtime=True)


@pytest.mark.parametrize(
    ("required", "action", "needed"),
    [
        (("queue-create",), "queue-create", True),
        (("queue-create",), "queue-reset", False),
        (("label",), "label", True),
        ((), "label", False),
        (("queue-delete",), "requeue", True),
        (("delete",), "requeue", True),
        (("queue-create",), "requeue", True),
        (("requeue",), "requeue", True),
        (("stop", "label"), "requeue", False),
    ],
)
def test_which_v2_actions_need_approval(required: tuple, action: str, needed: bool) -> None:
    assert needs_approval(action, ApprovalsConfig(required_for=required)) is needed


@pytest.mark.parametrize(
    ("command", "role", "what"),
    [
        (c.QueueList(), Role.VIEWER, "view nodes"),
        (c.QueueGet(NodeRef("q")), Role.VIEWER, "view nodes"),
        (c.QueueCreate("q", "us-east5-a", "v5p-8", "r"), Role.OPERATOR, "create queued"),
        (c.QueueDelete(NodeRef("q")), Role.OPERATOR, "delete queued resources"),
        (c.QueueReset(NodeRef("q")), Role.OPERATOR, "reset queued resources"),
        (c.Requeue(NodeRef("q")), Role.OPERATOR, "delete and requeue"),
        (c.Label(NodeRef("vm"), (("a", "b"),)), Role.OPERATOR, "label nodes"),
    ],
)
def test_v2_commands_need_the_roles_of_their_kind(
    command: c.Command, role: Role, what: str
) -> None:
    assert required_role(command) is role and what in describe(command)


QUOTA = (
    "Quota limit 'TPUV5PPodPerProjectPerZoneForTPUAPI' has been exceeded for project p in "
    "us-east5: quota metric 'tpu.googleapis.com/v5p_pod' is exhausted."
)


@pytest.mark.parametrize(
    ("message", "zone", "expected"),
    [
        (
            'There is no more capacity in the zone "us-east5-a"; try another zone.',
            "",
            "no capacity in us-east5-a right now: try another zone, a queued resource, or spot",
        ),
        (
            "Insufficient capacity.",
            "europe-west4-b",
            "no capacity in europe-west4-b right now",
        ),
        (
            QUOTA,
            "us-east5-a",
            "the project's quota TPUV5PPodPerProjectPerZoneForTPUAPI is exhausted: request more "
            "or free capacity; FAILED/SUSPENDED queued resources still hold quota",
        ),
        ("Reservation 'r1' not found.", "us-east5-a", "the reservation cannot be used"),
        ("The node is busy.", "us-east5-a", None),
    ],
)
def test_capacity_problems_are_said_as_what_to_do(
    message: str, zone: str, expected: str | None
) -> None:
    advice = m.capacity_advice(message, zone)
    if expected is None:
        assert advice is None
    else:
        assert advice is not None and advice.startswith(expected)


def test_help_lists_the_new_commands() -> None:
    text = str(render(m.HelpText())["blocks"])
    for usage in ("/tpu queue list", "/tpu queue create NAME", "/tpu label NODE", "/tpu requeue"):
        assert usage in text
    one = str(render(m.HelpText("queue"))["blocks"])
    assert "/tpu queue reset NAME" in one and "/tpu list" not in one
