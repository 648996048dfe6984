"""v2 TPU VMs and queued resources through Slack: cards, /tpu queue ..., label, Delete & requeue,
reimage refused with a recreate offer, and capacity problems said as what to do; the real bot
against the emulator and localslack over HTTP."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.models import Node, NodeState
from bot.core.queued import QueuedState
from bot.slack.actions import ActionId
from bot.tpu.client import TpuClient
from devstack.admin import admin
from devstack.clock import FakeClock
from devstack.stack import (
    APPROVALS,
    APPROVER,
    APPROVER2,
    CONFIG,
    OPERATOR,
    VIEWER,
    Stack,
    start_stack,
)
from localslack import Message, validate_blocks
from tpu_emulator import Emulator
from tpu_emulator.server import serve

V2_CONFIG: dict[str, Any] = {
    **CONFIG,
    # The Cloud TPU API's nodes and queued resources (test_compute_slack.py adds Compute's).
    "projects": [
        {"id": "ml-prod", "api": "v1alpha1", "sources": ["tpu"]},
        {"id": "ml-infra", "api": "v2", "sources": ["tpu"]},
        {"id": "ml-vision", "api": "v2", "sources": ["tpu"]},
    ],
    "approvals": {
        "required_for": [
            "stop",
            "delete",
            "reimage",
            "create",
            "label",
            "queue-create",
            "queue-delete",
            "queue-reset",
        ],
        "ttl_minutes": 30,
    },
}
FAILED_QR = "projects/ml-infra/locations/us-central2-b/queuedResources/finetune-v4-32"
WAITING_QR = "projects/ml-vision/locations/us-east5-a/queuedResources/pretrain-v5p-128"


@pytest.fixture
def v2(tmp_path: Path, clock: FakeClock) -> Iterator[Stack]:
    """Five emulator projects (v1alpha1 TPU Nodes in the first three, v2 VMs and queued
    resources after); the bot manages ml-prod on v1alpha1 and ml-infra, ml-vision on v2."""
    emulator = Emulator(clock=clock, op_seconds=0, fleet=60, projects=5)
    server = serve(emulator)
    stack = start_stack(tmp_path, emulator, server, clock, config=V2_CONFIG)
    yield stack
    stack.close()


def api(stack: Stack) -> TpuClient:
    """The emulator read through v2 (the neutral view the bot has)."""
    apis = {p["id"]: p["api"] for p in V2_CONFIG["projects"]}
    return TpuClient(stack.emulator_server.url, apis=apis, retries=1, timeout=10)


def calls(stack: Stack, key: str) -> int:
    return int(admin(stack.emulator_server, "stats")["requests"].get(key, 0))


def short(name: str) -> str:
    return "/".join(name.split("/")[i] for i in (1, 3, 5))


def v2_node(stack: Stack, project: str = "ml-infra", **wanted: Any) -> Node:
    for node in api(stack).list_nodes(project).nodes:
        if all(getattr(node, k) == v for k, v in wanted.items()):
            return node
    raise AssertionError(f"no node with {wanted} in {project}")


def approve_latest(stack: Stack) -> Message:
    """Approve the newest request in the approvals channel, as an approver."""
    roots = [m for m in stack.bot_messages(APPROVALS) if not m.thread_ts]
    assert roots, "no approval request was posted"
    answer = stack.click(APPROVER, roots[-1], ActionId.APPROVE)
    assert "Approved" in answer.text, answer.text
    return roots[-1]


def track(stack: Stack, times: int = 3) -> None:
    for _ in range(times):
        stack.bot.jobs.run("track_operations")
        stack.clock.advance(10)
        stack.settle()


def test_list_shows_v2_vms_with_runtime_versions_and_v1alpha1_with_tensorflow(v2: Stack) -> None:
    page = v2.command(VIEWER, "list project=ml-infra")
    validate_blocks(page.blocks)
    text = str(page.blocks)
    assert "*Runtime*" in text and "v2-alpha-tpuv5" in text and "*TensorFlow*" not in text
    assert "*Scheduling*" in text
    old = v2.command(VIEWER, "list project=ml-prod")
    assert "*TensorFlow*" in str(old.blocks) and "*Runtime*" not in str(old.blocks)


def test_a_vm_card_shows_its_queued_resource_and_maintenance(v2: Stack) -> None:
    vms = [n for p in ("ml-infra", "ml-vision") for n in api(v2).list_nodes(p).nodes]
    queued = next(n for n in vms if n.queued_resource)
    card = v2.command(VIEWER, f"get {short(queued.name)}")
    assert f"queued resource `{short(queued.queued_resource)}`" in str(card.blocks)
    ahead = next(n for n in vms if n.maintenance is not None)
    card = v2.command(VIEWER, f"get {short(ahead.name)}")
    assert ":wrench:" in str(card.blocks) and "maintenance" in str(card.blocks)


def test_queue_list_shows_every_queued_resource_trouble_first(v2: Stack) -> None:
    page = v2.command(VIEWER, "queue list")
    validate_blocks(page.blocks)
    cards = [b["text"]["text"] for b in page.blocks if b["type"] == "section"]
    assert "FAILED" in cards[0] and "finetune-v4-32" in cards[0]
    assert "exhausted" not in cards[0] and "no capacity in us-central2-b" in cards[0]
    assert "WAITING_FOR_RESOURCES" in str(page.blocks) and "waiting" in str(page.blocks)
    total = sum(
        len(api(v2).list_queued_resources(p).queued_resources) for p in ("ml-infra", "ml-vision")
    )
    assert f"of {total}" in page.text
    failed = v2.command(VIEWER, "queue list state=failed")
    assert "of 1 " in failed.text + " " and "finetune-v4-32" in str(failed.blocks)
    none = v2.command(VIEWER, "queue list project=ml-prod")
    assert "TPU API v2" in none.text


def test_queue_get_and_unknown_names_offer_candidates(v2: Stack) -> None:
    card = v2.command(VIEWER, "queue get finetune-v4-32")
    assert card.blocks[0]["text"]["text"] == "finetune-v4-32"
    assert "Delete & requeue" in str(card.blocks) and "Holds quota" in str(card.blocks)
    unknown = v2.command(VIEWER, "queue get finetune-v4")
    assert "No queued resource" in unknown.text
    assert short(FAILED_QR) in str(unknown.blocks) and "/tpu queue get" in str(unknown.blocks)


def test_queue_create_is_checked_then_approved_and_created_once(v2: Stack) -> None:
    base = "queue create fresh zone=us-east5-a project=ml-infra"
    wrong = v2.command(OPERATOR, f"{base} type=v9-8 runtime=v2-alpha-tpuv5")
    assert "not offered in us-east5-a" in wrong.text
    wrong = v2.command(OPERATOR, f"{base} type=v5p-8 runtime=tf-1.0")
    assert "Runtime `tf-1.0` is not offered" in wrong.text
    assert not v2.bot_messages(APPROVALS)
    queued = v2.command(OPERATOR, f"{base} type=v5p-8 runtime=v2-alpha-tpuv5 nodes=2 spot")
    assert "needs an approver" in queued.text
    original = copy.deepcopy(v2.bot_messages(APPROVALS)[-1])
    request = approve_latest(v2)
    assert "multislice of 2" in str(request.blocks)
    assert calls(v2, "v2.queuedResources.create") == 1
    again = v2.click(APPROVER2, original, ActionId.APPROVE)
    assert "already" in again.text and calls(v2, "v2.queuedResources.create") == 1
    created = api(v2).get_queued_resource(
        "projects/ml-infra/locations/us-east5-a/queuedResources/fresh"
    )
    assert created.spot and created.is_multislice
    track(v2)
    assert any("finished" in m.text for m in v2.bot_messages(APPROVALS) if m.thread_ts)


def test_queue_delete_needs_force_while_nodes_exist(v2: Stack) -> None:
    vm = v2_node(v2, state=NodeState.READY, multislice_node=False)
    while not vm.queued_resource:
        vm = next(n for n in api(v2).list_nodes("ml-infra").nodes if n.queued_resource)
    refused = v2.command(OPERATOR, f"queue delete {short(vm.queued_resource)}")
    assert "Add `force`" in refused.text and not v2.bot_messages(APPROVALS)
    queued = v2.command(OPERATOR, f"queue delete {short(vm.queued_resource)} force")
    assert "needs an approver" in queued.text
    request = approve_latest(v2)
    assert "force" in str(request.blocks)
    assert calls(v2, "v2.queuedResources.delete") == 1
    track(v2)
    assert vm.name not in v2.emulator.node_names("ml-infra")


def test_queue_reset_only_from_failed_or_suspended(v2: Stack) -> None:
    refused = v2.command(OPERATOR, f"queue reset {short(WAITING_QR)}")
    assert "only FAILED or SUSPENDED" in refused.text
    v2.command(OPERATOR, f"queue reset {short(FAILED_QR)}")
    approve_latest(v2)
    assert calls(v2, "v2.queuedResources.reset") == 1
    assert api(v2).get_queued_resource(FAILED_QR).state is not QueuedState.FAILED


def test_delete_and_requeue_a_failed_request_recreates_it_exactly_once(v2: Stack) -> None:
    card = v2.command(OPERATOR, f"queue get {short(FAILED_QR)}")
    queued = v2.click(OPERATOR, card, ActionId.REQUEUE)
    assert "needs an approver" in queued.text
    request = approve_latest(v2)
    assert "Delete &amp; requeue" in str(request.blocks) or "Delete & requeue" in str(
        request.blocks
    )
    assert calls(v2, "v2.queuedResources.delete") == 1
    track(v2, times=4)
    again = api(v2).get_queued_resource(FAILED_QR)
    assert again.state is not QueuedState.FAILED
    assert calls(v2, "v2.queuedResources.create") == 1
    thread = [m.text for m in v2.bot_messages(APPROVALS) if m.thread_ts == request.ts]
    assert any("queuing the same request again" in t for t in thread)
    # Resuming and tracking again changes nothing: one delete, one create.
    v2.bot.jobs.run("resume_approvals")
    track(v2)
    assert calls(v2, "v2.queuedResources.delete") == 1
    assert calls(v2, "v2.queuedResources.create") == 1


def test_delete_and_requeue_a_preempted_spot_vm(v2: Stack) -> None:
    vm = v2_node(v2, state=NodeState.PREEMPTED)
    card = v2.command(OPERATOR, f"get {short(vm.name)}")
    assert "Delete & requeue" in str(card.blocks)
    v2.click(OPERATOR, card, ActionId.REQUEUE)
    approve_latest(v2)
    track(v2, times=4)
    deletes = calls(v2, "v2.queuedResources.delete") + calls(v2, "v2.nodes.delete")
    assert deletes == 1 and calls(v2, "v2.queuedResources.create") == 1
    target = vm.queued_resource or vm.name.replace("/nodes/", "/queuedResources/")
    assert api(v2).get_queued_resource(target).state is not QueuedState.SUSPENDED


def test_label_a_vm_through_approval(v2: Stack) -> None:
    vm = v2_node(v2, state=NodeState.READY)
    v2.command(OPERATOR, f"label {short(vm.name)} owner=ada team=")
    request = approve_latest(v2)
    assert "owner=ada" in str(request.blocks)
    assert calls(v2, "v2.nodes.patch") == 1
    labels = api(v2).get_node(vm.name).labels
    assert labels.get("owner") == "ada" and "team" not in labels
    old = v2.emulator.node_names("ml-prod")[0]
    refused = v2.command(OPERATOR, f"label {short(old)} owner=ada")
    assert "v1alpha1" in refused.text and calls(v2, "v2.nodes.patch") == 1


def test_reimage_on_a_v2_vm_offers_recreate_on_a_runtime_version(v2: Stack) -> None:
    vm = v2_node(v2, state=NodeState.READY, queued_resource="")
    offer = v2.command(OPERATOR, f"reimage {short(vm.name)}")
    assert "no reimage" in offer.text
    select = offer.blocks[0]["accessory"]
    assert select["action_id"] == ActionId.RECREATE_RUNTIME
    option = select["options"][0]["value"]
    assert option.startswith("runtime=")
    queued = v2.click(OPERATOR, offer, ActionId.RECREATE_RUNTIME, selected=option, edits=True)
    assert "needs an approver" in queued.text
    request = approve_latest(v2)
    assert f"on runtime `{option.split('=', 1)[1]}`" in str(request.blocks)
    track(v2, times=4)
    assert api(v2).get_node(vm.name).software_version == option.split("=", 1)[1]
    assert calls(v2, "v2.nodes.delete") == 1 and calls(v2, "v2.nodes.create") == 1


def test_stockout_and_quota_are_said_as_what_to_do(v2: Stack) -> None:
    admin(v2.emulator_server, "faults", {"stockout": ["us-east5-a"], "quota": ["us-west4-a"]})
    v2.command(
        OPERATOR,
        "create extra zone=us-east5-a type=v5p-8 version=v2-alpha-tpuv5 project=ml-infra",
    )
    approve_latest(v2)
    track(v2)
    thread = " ".join(m.text for m in v2.bot_messages(APPROVALS) if m.thread_ts)
    assert "no capacity in us-east5-a right now: try another zone, a queued resource, or spot" in (
        thread
    )
    v2.command(
        OPERATOR,
        "queue create capped zone=us-west4-a type=v5litepod-4 runtime=v2-alpha-tpuv5-lite "
        "project=ml-infra",
    )
    approve_latest(v2)
    track(v2)
    card = v2.command(VIEWER, "queue get capped")
    assert "the project's quota TPUV5LITEPODPodPerProjectPerZoneForTPUAPI is exhausted" in str(
        card.blocks
    )


def test_requeue_whose_create_response_is_lost_still_queues_once(v2: Stack) -> None:
    card = v2.command(OPERATOR, f"queue get {short(FAILED_QR)}")
    v2.click(OPERATOR, card, ActionId.REQUEUE)
    request = approve_latest(v2)
    # The create reaches the API every time, but no answer comes back, on every retry.
    lost = {"methods": ["v2.queuedResources.create"], "failNext": 5, "afterApply": True}
    admin(v2.emulator_server, "faults", lost)
    track(v2, times=1)
    admin(v2.emulator_server, "faults", {"failNext": 0, "afterApply": False, "methods": []})
    track(v2, times=3)
    thread = [m.text for m in v2.bot_messages(APPROVALS) if m.thread_ts == request.ts]
    started = [t for t in thread if "Create queued resource" in t and "started" in t]
    assert len(started) == 1, thread
    assert not [t for t in thread if "failed" in t], thread
    assert calls(v2, "v2.queuedResources.create") > 1  # the lost answers were asked again
    assert api(v2).get_queued_resource(FAILED_QR).state is not QueuedState.FAILED
    names = v2.emulator.queued_resource_names("ml-infra")
    assert names.count(FAILED_QR) == 1


def test_queue_list_pages(v2: Stack) -> None:
    parent = "projects/ml-vision/locations/us-east5-b"
    node = {"acceleratorType": "v6e-8", "runtimeVersion": "v2-alpha-tpuv6e"}
    body = {"tpu": {"nodeSpec": [{"parent": parent, "node": node}]}}
    for i in range(12):
        spec = {"tpu": {"nodeSpec": [{**body["tpu"]["nodeSpec"][0], "nodeId": f"extra-{i}"}]}}
        v2.emulator.create_queued_resource(parent, f"extra-{i}", None, spec)
    first = v2.command(VIEWER, "queue list")
    validate_blocks(first.blocks)
    assert "Page 1 of" in str(first.blocks)
    shown = {b["block_id"] for b in first.blocks if b.get("block_id", "").startswith("queued:")}
    second = v2.click(VIEWER, first, ActionId.PAGE_NEXT, edits=True)
    assert "Page 2 of" in str(second.blocks)
    again = {b["block_id"] for b in second.blocks if b.get("block_id", "").startswith("queued:")}
    assert again and not (again & shown)


def test_requeue_without_approval_runs_both_steps_once(tmp_path: Path, clock: FakeClock) -> None:
    emulator = Emulator(clock=clock, op_seconds=0, fleet=60, projects=5)
    config = {**V2_CONFIG, "approvals": {"required_for": ["stop"], "ttl_minutes": 30}}
    stack = start_stack(tmp_path, emulator, serve(emulator), clock, config=config)
    try:
        answer = stack.command(OPERATOR, f"requeue {short(FAILED_QR)}")
        assert "Started: requeue" in answer.text and not stack.bot_messages(APPROVALS)
        track(stack, times=4)
        assert calls(stack, "v2.queuedResources.delete") == 1
        assert calls(stack, "v2.queuedResources.create") == 1
        assert api(stack).get_queued_resource(FAILED_QR).state is not QueuedState.FAILED
    finally:
        stack.close()


def test_recreate_on_a_runtime_whose_create_answer_is_lost_adopts_its_own_node(v2: Stack) -> None:
    vm = v2_node(v2, state=NodeState.READY, queued_resource="")
    runtime = next(
        v.version
        for v in api(v2).list_runtime_versions("ml-infra", vm.zone)
        if v.version != vm.software_version
    )
    v2.command(OPERATOR, f"recreate {short(vm.name)} runtime={runtime}")
    request = approve_latest(v2)
    lost = {"methods": ["v2.nodes.create"], "failNext": 5, "afterApply": True}
    admin(v2.emulator_server, "faults", lost)
    track(v2, times=1)
    admin(v2.emulator_server, "faults", {"failNext": 0, "afterApply": False, "methods": []})
    track(v2, times=3)
    thread = [m.text for m in v2.bot_messages(APPROVALS) if m.thread_ts == request.ts]
    assert len([t for t in thread if ":gear: Create of" in t]) == 1, thread
    assert any("Create of" in t and "finished" in t for t in thread), thread
    assert api(v2).get_node(vm.name).software_version == runtime
