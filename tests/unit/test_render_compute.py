"""The renderer for TPU VM instances, slices, reservations and flex-start requests, against golden
JSON and localslack's Block Kit rules.

Regenerate after an intended change: UPDATE_GOLDEN=1 pytest tests/unit/test_render_compute.py
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core import compute_messages as cm
from bot.core import messages as m
from bot.core.instances import (
    FlexRequest,
    FlexState,
    Host,
    Instance,
    InstanceGroup,
    InstanceStatus,
    ProvisioningModel,
    Reservation,
    ReservationBlock,
    SubBlock,
)
from bot.core.models import Maintenance
from bot.core.records import Approval, Incident
from bot.slack.blocks import render
from devstack.clock import T0
from localslack import validate_blocks

GOLDEN = Path(__file__).parent / "golden"
Z = "projects/ml-prod/zones/us-central1-c"
SLICE = f"{Z}/instanceGroupManagers/ironwood-slice-a"
RES = f"{Z}/reservations/ironwood"
BLOCK = f"{RES}/reservationBlocks/block-1"
FLEX = "projects/ml-prod/zones/us-east5-b/instanceGroupManagers/flex-v6e/resizeRequests/more"
WINDOW = Maintenance(
    "SCHEDULED", "PENDING", T0 + timedelta(days=2), T0 + timedelta(days=2, hours=4), None, True
)


def vm(name: str, **changes: object) -> Instance:
    base: dict[str, object] = dict(
        name=f"{Z}/instances/{name}",
        machine_type="tpu7x-standard-4t",
        status=InstanceStatus.RUNNING,
        uid="7000000000000000001",
        labels={"team": "llm", "env": "prod"},
        create_time=T0,
        host="/c1/b1/s1/h1",
    )
    base.update(changes)
    return Instance(**base)  # type: ignore[arg-type]


HOSTS = tuple(
    Host(f"{Z}/instances/ironwood-slice-a-{i:04d}", InstanceStatus.RUNNING) for i in range(16)
)
BROKEN = InstanceGroup(
    SLICE,
    16,
    (*HOSTS[:2], Host(HOSTS[2].name, InstanceStatus.REPAIRING), *HOSTS[3:]),
    "4x4x4",
    "ACTIVE_DEGRADED",
    "projects/ml-prod/regions/us-central1/resourcePolicies/ironwood-4x4x4",
)
HOST = vm(
    "ironwood-slice-a-0002",
    status=InstanceStatus.REPAIRING,
    provisioning=ProvisioningModel.RESERVATION_BOUND,
    reservation=RES,
    sub_block=f"{BLOCK}/reservationSubBlocks/sub-1",
    placement_policy=BROKEN.policy,
    group=SLICE,
    topology="4x4x4",
)
SPOT = vm(
    "sweep-vm-00003",
    machine_type="ct6e-standard-4t",
    status=InstanceStatus.TERMINATED,
    provisioning=ProvisioningModel.SPOT,
    termination_action="STOP",
    status_message="Instance was preempted.",
)
GKE = vm(
    "gke-research-pool-abcd",
    machine_type="ct6e-standard-4t",
    labels={"goog-k8s-cluster-name": "research", "goog-k8s-node-pool-name": "tpu-v6e-pool"},
    maintenance=WINDOW,
)
SUBS = (
    SubBlock(f"{BLOCK}/reservationSubBlocks/sub-1", 16, 16),
    SubBlock(f"{BLOCK}/reservationSubBlocks/sub-2", 16, 0, 1, WINDOW),
)
RESERVATION = Reservation(
    RES, "tpu7x-standard-4t", 32, 16, (ReservationBlock(BLOCK, 32, 16, SUBS),)
)
FLEXES = (
    FlexRequest(FLEX, FlexState.ACCEPTED, 4, 7200, T0, last_error="no capacity yet"),
    FlexRequest(FLEX.replace("/more", "/failed"), FlexState.FAILED, 2, 3600, T0, error="quota"),
)
APPROVAL = Approval(
    id="ap2",
    action="report-faulty",
    target=HOST.name,
    requester="U0OPER",
    requester_channel="C0GENERAL",
    created_at=T0,
    expires_at=T0 + timedelta(minutes=30),
    reason="chip errors",
    node_state="RUNNING",
    params={
        "request": {
            "disruptionSchedule": "IMMEDIATE",
            "faultReasons": [{"behavior": "CHIP_ERROR", "description": "chip errors"}],
        }
    },
)
CASES: dict[str, m.Message] = {
    "compute_page": m.NodePage(
        nodes=(HOST, SPOT, GKE), total=3, page=0, page_size=10, query="list project=ml-prod"
    ),
    "compute_detail": cm.InstanceDetail(HOST, (), BROKEN),
    "compute_slices": cm.SliceList((BROKEN,), T0, total=1),
    "compute_reservations": cm.ReservationList((RESERVATION,), T0),
    "compute_flex_page": m.QueuedPage(
        queued=FLEXES,
        total=2,
        page=0,
        page_size=10,
        query="queue list project=ml-prod",
        now=T0 + timedelta(hours=3),
    ),
    "compute_report_faulty": m.ApprovalRequest(APPROVAL),
    "compute_slice_alert": m.IncidentRoot(
        Incident(
            id="inc1",
            node=SLICE,
            kind="hosts-down",
            channel="C0ALERTS",
            opened_at=T0,
            last_event_at=T0,
            detail="host 3 of 16 down: ironwood-slice-a-0002 is REPAIRING (host error)",
            accelerator_type="tpu7x-standard-4t",
        ),
        T0,
    ),
    "compute_flex_alert": m.IncidentRoot(
        Incident(
            id="inc2",
            node=FLEX,
            kind="flex-waiting",
            channel="C0ALERTS",
            opened_at=T0,
            last_event_at=T0,
            detail="waiting for capacity for 61 min (threshold 60) for 4 hosts.",
        ),
        T0,
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


def test_cards_say_what_they_are_and_offer_by_kind() -> None:
    page = json.dumps(render(CASES["compute_page"]))
    assert page.count("Compute Engine TPU VM") == 3
    # A slice's host is not stopped alone; a GKE node offers no action (act through GKE).
    assert f"stop {HOST.name}" not in page and f"delete {HOST.name}" in page
    assert f"start {SPOT.name}" in page
    assert f"delete {GKE.name}" not in page and f"maintenance start {GKE.name}" not in page
    assert "act on it through GKE" in page


def test_flex_cards_offer_cancel_while_waiting_and_requeue_once_failed() -> None:
    page = json.dumps(render(CASES["compute_flex_page"]))
    assert f"queue cancel {FLEX}" in page and f"requeue {FLEXES[1].name}" in page
    assert f"queue cancel {FLEXES[1].name}" not in page


def test_the_report_shows_every_field_it_sends() -> None:
    card = json.dumps(render(CASES["compute_report_faulty"]))
    for field in ("disruptionSchedule", "IMMEDIATE", "faultReasons[0].behavior", "CHIP_ERROR"):
        assert field in card
    assert "instance was *RUNNING* when asked" in card
