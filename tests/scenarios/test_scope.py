"""One scope check (issue 18, part 2): a project limited to some zones (`locations:`) is held to
them wherever a node or queued resource is typed, clicked or carried by an approval, and in every
listing. Nothing outside is read or changed; the person is told what the bot manages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.actions import ActionId
from bot.tpu.client import TpuClient
from devstack.admin import admin
from devstack.clock import FakeClock
from devstack.stack import APPROVALS, CONFIG, OPERATOR, VIEWER, Stack, start_stack
from tpu_emulator import Emulator
from tpu_emulator.server import serve

PROD_ZONE, INFRA_ZONE = "us-central1-b", "us-west4-a"
SCOPED: dict[str, Any] = {
    **CONFIG,
    "projects": [
        {"id": "ml-prod", "api": "v1alpha1", "locations": [PROD_ZONE]},
        {"id": "ml-infra", "api": "v2", "locations": [INFRA_ZONE]},
    ],
    "approvals": {"required_for": ["stop", "delete", "reimage", "create", "label", "requeue"]},
}
MUTATIONS = (
    "nodes.stop",
    "nodes.delete",
    "nodes.reimage",
    "nodes.start",
    "v2.nodes.patch",
    "v2.nodes.delete",
    "v2.queuedResources.delete",
    "v2.queuedResources.reset",
)


@pytest.fixture
def scoped(tmp_path: Path, clock: FakeClock) -> Iterator[Stack]:
    emulator = Emulator(clock=clock, op_seconds=0, fleet=60, projects=5)
    server = serve(emulator)
    stack = start_stack(tmp_path, emulator, server, clock, config=SCOPED)
    yield stack
    stack.close()


def outside(stack: Stack, project: str, zone: str) -> str:
    """`project/zone/id` of a node in a zone other than `zone`."""
    name = next(n for n in stack.emulator.node_names(project) if n.split("/")[3] != zone)
    return "/".join(name.split("/")[i] for i in (1, 3, 5))


def requests(stack: Stack) -> dict[str, int]:
    return dict(admin(stack.emulator_server, "stats")["requests"])


def refused(answer: Any, zone: str | None = None) -> bool:
    text = answer.text + str(answer.blocks)
    return "does not manage" in text or ("manages no project" in text and (zone or "") in text)


@pytest.mark.parametrize(
    "command",
    [
        "get {node}",
        "stop {node} outside",
        "start {node}",
        "delete {node} outside",
        "reimage {node} 2.12.0",
        "recreate {node}",
        "ops {node}",
    ],
)
def test_tpu_node_commands_outside_the_zones_are_refused_before_any_call(
    scoped: Stack, command: str
) -> None:
    node = outside(scoped, "ml-prod", PROD_ZONE)
    before = requests(scoped)
    for ref in (node, "/".join(node.split("/")[1:])):  # project/zone/id and zone/id
        answer = scoped.command(OPERATOR, command.format(node=ref))
        assert refused(answer), answer.text
    after = requests(scoped)
    assert after.get("nodes.get", 0) == before.get("nodes.get", 0)  # nothing outside was read
    assert all(after.get(m, 0) == 0 for m in MUTATIONS)
    assert not [m for m in scoped.bot_messages(APPROVALS)]  # nobody was asked to approve


@pytest.mark.parametrize(
    "command",
    ["get {node}", "label {node} team=x", "requeue {node}", "queue get {queued}"],
)
def test_tpu_vm_and_queued_resource_commands_outside_the_zones_are_refused(
    scoped: Stack, command: str
) -> None:
    node = outside(scoped, "ml-infra", INFRA_ZONE)
    queued = "ml-infra/us-central2-b/finetune-v4-32"
    answer = scoped.command(OPERATOR, command.format(node=node, queued=queued))
    assert refused(answer), answer.text
    assert all(requests(scoped).get(m, 0) == 0 for m in MUTATIONS)


@pytest.mark.parametrize("verb", ["delete", "reset"])
def test_queue_mutations_outside_the_zones_are_refused(scoped: Stack, verb: str) -> None:
    answer = scoped.command(OPERATOR, f"queue {verb} ml-infra/us-central2-b/finetune-v4-32")
    assert refused(answer), answer.text
    assert not scoped.bot_messages(APPROVALS)


def test_a_forged_button_is_held_to_the_same_scope(scoped: Stack) -> None:
    page = scoped.command(OPERATOR, "list project=ml-prod")
    node = outside(scoped, "ml-prod", PROD_ZONE)
    answer = scoped.click(OPERATOR, page, ActionId.STOP, value=f"stop {node}")
    assert refused(answer), answer.text
    assert not scoped.bot_messages(APPROVALS)


def test_listings_and_catalogs_show_only_the_managed_zones(scoped: Stack) -> None:
    page = scoped.command(VIEWER, "list")
    shown = str(page.blocks)
    assert f"/{PROD_ZONE}/" in shown or PROD_ZONE in shown
    zones = {n.split("/")[3] for n in scoped.emulator.node_names("ml-prod")} - {PROD_ZONE}
    assert not any(f"ml-prod/{z}/" in shown for z in zones)
    assert refused(scoped.command(VIEWER, "list zone=us-central1-a"), "us-central1-a")
    assert refused(scoped.command(VIEWER, "types us-central1-a"), "us-central1-a")
    assert refused(scoped.command(VIEWER, "versions us-central1-a"), "us-central1-a")
    queued = scoped.command(VIEWER, "queue list")
    assert "finetune-v4-32" not in str(queued.blocks)  # a request in us-central2-b


def test_operations_outside_the_zones_are_not_listed(scoped: Stack) -> None:
    api = TpuClient(scoped.emulator_server.url, apis={"ml-prod": "v1alpha1"}, retries=1)
    names = scoped.emulator.node_names("ml-prod")
    inside = next(n for n in names if n.split("/")[3] == PROD_ZONE)
    far = next(n for n in names if n.split("/")[3] != PROD_ZONE)
    api.delete_node(inside)
    api.delete_node(far)  # someone else's operation, in a zone the bot does not manage
    ops = str(scoped.command(VIEWER, "ops").blocks)
    assert inside.rsplit("/", 1)[1] in ops
    assert far.rsplit("/", 1)[1] not in ops and far.split("/")[3] not in ops
