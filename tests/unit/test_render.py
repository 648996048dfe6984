"""The renderer against golden JSON, and within Slack's limits at any size.

Regenerate the goldens after an intended change: UPDATE_GOLDEN=1 pytest tests/unit/test_render.py
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core import messages as m
from bot.core.models import (
    AcceleratorConfig,
    Health,
    Maintenance,
    Node,
    NodeState,
    Symptom,
    SymptomType,
)
from bot.core.operations import Operation, OperationError
from bot.core.queued import QueuedNodeSpec, QueuedResource, QueuedState, StateInitiator
from bot.core.records import Approval, ApprovalStatus, AuditEntry, TrackedOperation
from bot.slack.blocks import render
from devstack.clock import T0
from localslack import validate_blocks

GOLDEN = Path(__file__).parent / "golden"


def node(i: int = 1, **changes: object) -> Node:
    base = dict(
        name=f"projects/ml-prod/locations/us-central1-b/nodes/trainer-{i}",
        accelerator_type="v3-8",
        tensorflow_version="2.12.0",
        state=NodeState.READY,
        health=Health.HEALTHY,
        labels={"team": "vision", "env": "prod"},
        preemptible=True,
        create_time=T0,
    )
    base.update(changes)
    return Node(**base)  # type: ignore[arg-type]


SICK = node(
    2,
    health=Health.TIMEOUT,
    health_description="agent <silent> & late",
    symptoms=(Symptom(SymptomType.OUT_OF_MEMORY, "0"),),
)
APPROVAL = Approval(
    id="ap1",
    action="stop",
    target=node().name,
    requester="U0OPER",
    requester_channel="C0GENERAL",
    created_at=T0,
    expires_at=T0 + timedelta(minutes=30),
    reason="nightly",
    node_state="READY",
)
TRACKED = TrackedOperation(
    name="projects/ml-prod/locations/us-central1-b/operations/operation-1-a",
    target=node().name,
    verb="stop",
    requester="U0OPER",
    channel="C0ONCALL",
    thread_ts="1.1",
    created_at=T0,
)

V2 = "projects/ml-infra/locations/us-east5-a"
VM = Node(
    name=f"{V2}/nodes/pretrain-0",
    accelerator_type="v5p-128",
    software_version="v2-alpha-tpuv5",
    state=NodeState.READY,
    health=Health.HEALTHY,
    labels={"team": "llm"},
    create_time=T0,
    spot=True,
    accelerator_config=AcceleratorConfig("V5P", "4x4x4"),
    queued_resource=f"{V2}/queuedResources/pretrain",
    multislice_node=True,
    maintenance=Maintenance(
        type="SCHEDULED",
        status="PENDING",
        window_start=T0 + timedelta(hours=6),
        window_end=T0 + timedelta(hours=8),
        latest_window_start=T0 + timedelta(days=2),
        can_reschedule=True,
    ),
)
PREEMPTED_SPOT = Node(
    name=f"{V2}/nodes/sweep-3",
    accelerator_type="v6e-8",
    software_version="v2-alpha-tpuv6e",
    state=NodeState.PREEMPTED,
    spot=True,
    accelerator_config=AcceleratorConfig("V6E", "2x4"),
)
QUOTA = (
    "Quota limit 'TPUV5PPodPerProjectPerZoneForTPUAPI' has been exceeded for project ml-infra "
    "in us-east5: quota metric 'tpu.googleapis.com/v5p_pod' is exhausted."
)
STOCKOUT = 'There is no more capacity in the zone "us-east5-a"; you can try in another zone.'


def queued(qr_id: str, state: QueuedState, **changes: object) -> QueuedResource:
    base: dict[str, object] = dict(
        name=f"{V2}/queuedResources/{qr_id}",
        state=state,
        create_time=T0,
        node_specs=(
            QueuedNodeSpec(
                parent=V2,
                node_id=qr_id,
                accelerator_type="v5p-128",
                software_version="v2-alpha-tpuv5",
            ),
        ),
    )
    base.update(changes)
    return QueuedResource(**base)  # type: ignore[arg-type]


FAILED_QUOTA = queued(
    "finetune",
    QueuedState.FAILED,
    state_initiator=StateInitiator.SERVICE,
    failure=OperationError(8, QUOTA),
)
CASES: dict[str, m.Message] = {
    "usage": m.Usage("Which TensorFlow version?", "/tpu reimage NODE VERSION", "See versions."),
    "refusal": m.Refusal("You need the *operator* role to stop nodes; you have *viewer*."),
    "candidates": m.NodeCandidates("`t` names 2 nodes.", ("a/b/t", "c/d/t"), "stop"),
    "node_page": m.NodePage(
        nodes=(
            SICK,
            node(3, state=NodeState.STOPPED, health=Health.HEALTH_UNSPECIFIED),
            node(4, state=NodeState.PREEMPTED),
            node(5, accelerator_type="v3-32"),
        ),
        total=14,
        page=0,
        page_size=4,
        query="list project=ml-prod",
        unreachable=("projects/ml-prod/locations/asia-east1-c",),
        summary=(("READY", 12), ("unhealthy", 1)),
    ),
    "node_detail": m.NodeDetail(SICK, (TRACKED,)),
    "approval_pending": m.ApprovalRequest(APPROVAL),
    "approval_executed": m.ApprovalRequest(
        Approval(
            **{**APPROVAL.__dict__, "status": ApprovalStatus.EXECUTED, "decided_by": "U0APPR1"}
        )
    ),
    "approval_expired": m.ApprovalRequest(
        Approval(**{**APPROVAL.__dict__, "status": ApprovalStatus.EXPIRED})
    ),
    "operation_failed": m.OperationUpdate(
        TrackedOperation(
            **{
                **TRACKED.__dict__,
                "done": True,
                "error_code": 8,
                "error_message": "no capacity in us-central1-b",
            }
        ),
        Operation(
            name=TRACKED.name,
            done=True,
            verb="create",
            error=OperationError(8, "no capacity in us-central1-b"),
        ),
    ),
    "audit": m.AuditList((AuditEntry(T0, "U0OPER", "stop", node().name, "pending", "nightly"),)),
    "reimage_picker": m.ReimagePicker(node(), ("2.11.0", "2.12.0", "pytorch-2.0")),
    "node_v2_maintenance": m.NodeDetail(VM),
    "node_page_v2": m.NodePage(
        nodes=(PREEMPTED_SPOT, replace(PREEMPTED_SPOT, queued_resource=f"{V2}/queuedResources/q")),
        total=2,
        page=0,
        page_size=10,
        query="list project=ml-infra",
    ),
    "recreate_picker": m.RecreatePicker(
        VM, ("v2-alpha-tpuv5", "tpu-ubuntu2204-base"), "The TPU API v2 has no reimage."
    ),
    "queued_page": m.QueuedPage(
        queued=(
            FAILED_QUOTA,
            queued(
                "sweep",
                QueuedState.SUSPENDED,
                state_initiator=StateInitiator.SERVICE,
                spot=True,
            ),
            queued("pretrain", QueuedState.WAITING_FOR_RESOURCES),
            queued("serve", QueuedState.ACTIVE),
        ),
        total=14,
        page=0,
        page_size=4,
        query="queue list project=ml-infra",
        now=T0 + timedelta(hours=26, minutes=5),
        summary=(("ACTIVE", 10), ("FAILED", 1)),
    ),
    "queued_detail": m.QueuedDetail(
        queued(
            "pretrain",
            QueuedState.FAILED,
            failure=OperationError(8, STOCKOUT),
            node_specs=(
                QueuedNodeSpec(
                    parent=V2,
                    accelerator_type="v5p-128",
                    software_version="v2-alpha-tpuv5",
                    multislice_count=2,
                ),
            ),
        ),
        T0 + timedelta(minutes=42),
        (VM,),
    ),
    "approval_queue_create": m.ApprovalRequest(
        Approval(
            **{
                **APPROVAL.__dict__,
                "action": "queue-create",
                "target": f"{V2}/queuedResources/pretrain",
                "node_state": "",
                "reason": "",
                "params": {
                    "request": {
                        "nodeSpecs": [
                            {
                                "parent": V2,
                                "acceleratorType": "v5p-128",
                                "runtimeVersion": "v2-alpha-tpuv5",
                                "multisliceCount": 2,
                            }
                        ],
                        "spot": True,
                        "validUntilSeconds": 6 * 3600,
                    }
                },
            }
        )
    ),
    "operation_quota": m.OperationUpdate(
        TrackedOperation(
            **{
                **TRACKED.__dict__,
                "verb": "queue-create",
                "target": f"{V2}/queuedResources/pretrain",
                "done": True,
                "error_code": 8,
                "error_message": QUOTA,
            }
        )
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    rendered = render(CASES[name])
    validate_blocks(rendered["blocks"])
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(json.dumps(rendered, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    assert rendered == json.loads(path.read_text())


def test_user_text_is_escaped() -> None:
    text = json.dumps(render(m.NodeDetail(SICK)))
    assert "&lt;silent&gt; &amp; late" in text and "<silent>" not in text


@pytest.mark.parametrize("count", [0, 1, 10])
def test_pages_stay_within_limits_even_with_huge_labels(count: int) -> None:
    big = {f"k{i}": "v" * 60 for i in range(64)}
    nodes = tuple(
        node(
            i,
            labels=big,
            symptoms=tuple(Symptom(SymptomType.LOW_MEMORY, str(w)) for w in range(200)),
        )
        for i in range(count)
    )
    page = m.NodePage(nodes, total=2000, page=3, page_size=10, query="list")
    rendered = render(page)
    validate_blocks(rendered["blocks"])
    assert len(rendered["blocks"]) <= 50


def test_unknown_message_type_is_an_error() -> None:
    with pytest.raises(TypeError):
        render(object())
