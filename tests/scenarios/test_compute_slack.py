"""Compute Engine's TPU VMs from Slack, over real HTTP: one listing with the TPU API's nodes, cards
that say what each TPU is, the same stop/label through the same roles and approvals, the
quarantine (report-faulty) and maintenance through approval, slices, reservations and flex-start
requests beside queued resources, and GKE's instances refused with where to act."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.actions import ActionId
from devstack.clock import FakeClock
from devstack.stack import APPROVER, OPERATOR, VIEWER, Stack
from localslack import Message, validate_blocks
from tests.scenarios.compute_world import (
    FLEX_GROUP,
    GKE_GROUP,
    PROJECT,
    SUB_BLOCK_SPARE,
    approval_roots,
    calls,
    compute_stack,
    google_status,
    instances,
    name_of,
    standalone,
)


@pytest.fixture
def world(tmp_path: Path, clock: FakeClock) -> Iterator[Stack]:
    with compute_stack(tmp_path, clock) as stack:
        yield stack


def approve_latest(stack: Stack, twice: bool = False) -> Message:
    """An approver approves the newest request (twice: a double click)."""
    root = approval_roots(stack)[-1]
    original = copy.deepcopy(root)  # the card as first drawn, buttons and all
    answer = stack.click(APPROVER, root, ActionId.APPROVE)
    assert "Approved" in answer.text, answer.text
    if twice:
        again = stack.click(APPROVER, original, ActionId.APPROVE)
        assert "already" in again.text, again.text
    return root


def test_list_shows_nodes_and_tpu_vms_together_trouble_first(world: Stack) -> None:
    nodes = len(world.emulator.node_names(PROJECT))
    vms = len(instances(world))
    page = world.command(VIEWER, f"list project={PROJECT}")
    validate_blocks(page.blocks)
    assert f"of {nodes + vms} for" in page.text
    text = str(page.blocks)
    # One listing, both kinds, each card saying what it is and where it comes from.
    assert "Cloud TPU API node" in text and "Compute Engine TPU VM" in text
    cards = [b["text"]["text"] for b in page.blocks if b["type"] == "section" and "fields" in b]
    assert ":red_circle:" in cards[0] or ":black_circle:" in cards[0]  # trouble first
    # A page further on holds the rest; every card is one of the two kinds.
    last = world.command(VIEWER, f"list project={PROJECT} page={(nodes + vms - 1) // 10}")
    assert "TPUs" in str(last.blocks) and "Compute Engine TPU VM" in str(last.blocks)


def test_get_a_slice_host_says_its_kind_its_slice_and_its_reservation(world: Stack) -> None:
    host = next(i for i in instances(world) if i["name"].startswith("ironwood-slice-a-"))
    card = world.command(VIEWER, f"get {host['name']}")
    validate_blocks(card.blocks)
    text = str(card.blocks)
    assert "Compute Engine TPU VM" in text and "tpu7x-standard-4t" in text and "4 chips" in text
    assert "host of slice `ml-prod/us-central1-c/ironwood-slice-a`" in text
    assert "Slice 4x4x4" in text and "hosts 16/16 healthy" in text
    assert "reservation `ml-prod/us-central1-c/ironwood-reservation`" in text


def test_stop_a_tpu_vm_through_the_same_approval(world: Stack) -> None:
    vm = standalone(world, spot=False)
    name = name_of(vm)
    answer = world.command(OPERATOR, f"stop {vm['name']} end of day")
    assert "needs an approver" in answer.text, answer.text
    card = approval_roots(world)[-1]
    assert "*Stop*" in str(card.blocks) and "instance was *RUNNING* when asked" in str(card.blocks)
    approve_latest(world, twice=True)
    assert calls(world, "compute.instances.stop") == 1
    assert google_status(world, name) == "TERMINATED"


def test_report_faulty_through_approval_reports_the_host_exactly_once(world: Stack) -> None:
    vm = standalone(world, spot=False)
    name = name_of(vm)
    answer = world.command(OPERATOR, f"report-faulty {vm['name']} chip errors in every step")
    assert "needs an approver" in answer.text, answer.text
    card = str(approval_roots(world)[-1].blocks)
    # The approver sees every field that will be sent.
    assert "Report host as faulty" in card and "chip errors in every step" in card
    for field in ("disruptionSchedule", "IMMEDIATE", "faultReasons[0].behavior", "CHIP_ERROR"):
        assert field in card, field
    assert calls(world, "compute.instances.reportHostAsFaulty") == 0
    approve_latest(world, twice=True)
    assert calls(world, "compute.instances.reportHostAsFaulty") == 1
    assert google_status(world, name) == "REPAIRING"


def test_report_faulty_needs_a_reason_and_a_running_vm(world: Stack) -> None:
    vm = standalone(world, spot=False)
    usage = world.command(OPERATOR, f"report-faulty {vm['name']}")
    assert "Say why" in usage.text
    stopped = standalone(world, spot=True)
    world.emulator.inject(name_of(stopped), {"status": "TERMINATED"})
    refusal = world.command(OPERATOR, f"report-faulty {name_of(stopped)} bad chips")
    assert "only a RUNNING VM's host is reported" in refusal.text
    assert approval_roots(world) == []


def test_actions_on_a_gke_node_are_refused_with_its_cluster_and_node_pool(world: Stack) -> None:
    gke = next(i for i in instances(world) if i["name"].startswith(GKE_GROUP[:-4]))
    for command in (
        f"stop {gke['name']}",
        f"delete {gke['name']} cleanup",
        f"label {gke['name']} team=vision",
    ):
        answer = world.command(OPERATOR, command)
        assert "GKE cluster `research`" in answer.text, answer.text
        assert "node pool `tpu-v6e-pool`" in answer.text and "through GKE" in answer.text
    assert approval_roots(world) == []
    card = world.command(VIEWER, f"get {gke['name']}")
    assert "GKE cluster `research`" in str(card.blocks)


def test_label_a_tpu_vm_sends_the_fingerprint_it_read(world: Stack) -> None:
    vm = standalone(world, spot=True)
    answer = world.command(OPERATOR, f"label {vm['name']} owner=ada")
    assert "Started: label" in answer.text, answer.text  # labels need no approval here
    labels = next(i for i in instances(world) if i["name"] == vm["name"])["labels"]
    assert labels["owner"] == "ada" and labels["team"] == vm["labels"]["team"]
    assert calls(world, "compute.instances.setLabels") == 1


def test_slices_show_hosts_healthy_of_wanted_and_topology(world: Stack) -> None:
    answer = world.command(VIEWER, "slices")
    validate_blocks(answer.blocks)
    text = str(answer.blocks)
    assert "ironwood-slice-a" in text and "4x4x4" in text and "hosts 16/16 healthy" in text
    assert "workload policy" in text


def test_reservations_show_degraded_sub_blocks_and_start_maintenance(world: Stack) -> None:
    answer = world.command(VIEWER, "reservations")
    validate_blocks(answer.blocks)
    text = str(answer.blocks)
    assert (
        "ironwood-reservation" in text and "*1 degraded*" in text and "can be rescheduled" in text
    )
    world.command(OPERATOR, f"maintenance start {SUB_BLOCK_SPARE}")
    card = str(approval_roots(world)[-1].blocks)
    assert "Start maintenance" in card and "ironwood-reservation-block-0001-subblock-0002" in card
    approve_latest(world, twice=True)
    assert calls(world, "compute.reservationSubBlocks.performMaintenance") == 1


def test_queue_list_shows_flex_start_requests_with_cancel(world: Stack) -> None:
    page = world.command(VIEWER, f"queue list project={PROJECT}")
    validate_blocks(page.blocks)
    text = str(page.blocks)
    assert "flex-v6e-queued" in text and "flex-v6e-granted" in text
    assert "Compute Engine flex-start request" in text
    queued = f"{FLEX_GROUP}/resizeRequests/flex-v6e-queued"
    assert f"queue cancel {queued}" in text
    answer = world.click(OPERATOR, page, ActionId.QUEUE_CANCEL, value=f"queue cancel {queued}")
    assert "Started: queue-cancel" in answer.text, answer.text
    assert calls(world, "compute.instanceGroupManagerResizeRequests.cancel") == 1
    again = world.command(OPERATOR, f"queue cancel {queued}")
    assert "only one still waiting can be cancelled" in again.text


def test_out_of_scope_instances_are_refused_before_any_call(world: Stack) -> None:
    listed = calls(world, "compute.instances.get")
    answer = world.command(OPERATOR, "stop ml-sandbox/us-east5-b/some-vm")
    assert "is not one this bot manages" in answer.text
    assert calls(world, "compute.instances.get") == listed


def test_an_approved_stop_is_refused_when_the_vm_changed_meanwhile(world: Stack) -> None:
    vm = standalone(world, spot=True)
    world.command(OPERATOR, f"stop {vm['name']} done for today")
    world.emulator.inject(name_of(vm), {"preempted": True})  # before anyone approves
    root = approval_roots(world)[-1]
    answer = world.click(APPROVER, root, ActionId.APPROVE)
    assert "not run" in answer.text and "RUNNING when requested" in answer.text, answer.text
    assert calls(world, "compute.instances.stop") == 0


def test_ops_of_a_tpu_vm_are_its_zones_operations_on_it(world: Stack) -> None:
    vm = standalone(world, spot=True)
    world.command(OPERATOR, f"label {vm['name']} owner=abe")
    answer = world.command(VIEWER, f"ops {vm['name']}")
    assert "setLabels" in answer.text + str(answer.blocks)
    assert vm["name"] in str(answer.blocks)
