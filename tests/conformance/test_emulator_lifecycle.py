"""The emulated service's state machine and validation, moved by an injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.clock import FakeClock
from tpu_emulator import ApiError, Emulator

PARENT = "projects/p1/locations/us-central1-b"
SPEC = {"acceleratorType": "v3-8", "tensorflowVersion": "2.12.0"}


@pytest.fixture
def emu(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock, op_seconds=10)


def created(emu: Emulator, clock: FakeClock, node_id: str = "n1", **extra: Any) -> str:
    emu.create_node(PARENT, node_id, None, {**SPEC, **extra})
    clock.advance(10)
    return f"{PARENT}/nodes/{node_id}"


def test_create_goes_creating_then_ready(emu: Emulator, clock: FakeClock) -> None:
    op = emu.create_node(PARENT, "n1", None, SPEC)
    name = f"{PARENT}/nodes/n1"
    assert emu.get_node(name)["state"] == "CREATING"
    assert "done" not in emu.get_operation(op["name"])
    clock.advance(9.9)
    assert emu.get_node(name)["state"] == "CREATING"
    clock.advance(0.1)
    node = emu.get_node(name)
    assert (node["state"], node["health"]) == ("READY", "HEALTHY")
    done = emu.get_operation(op["name"])
    assert done["done"] and done["response"]["state"] == "READY"
    assert done["metadata"]["endTime"] > done["metadata"]["createTime"]
    assert done["metadata"]["apiVersion"] == "v1alpha1" and done["metadata"]["verb"] == "create"
    assert op["name"].startswith(f"{PARENT}/operations/operation-")


@pytest.mark.parametrize(
    ("action", "during", "after"),
    [
        (lambda e, n: e.stop_node(n), "STOPPING", "STOPPED"),
        (lambda e, n: e.reimage_node(n, {"tensorflowVersion": "2.11.0"}), "REIMAGING", "READY"),
    ],
)
def test_transitions(emu: Emulator, clock: FakeClock, action: Any, during: str, after: str) -> None:
    name = created(emu, clock)
    action(emu, name)
    assert emu.get_node(name)["state"] == during
    clock.advance(10)
    assert emu.get_node(name)["state"] == after


def test_stop_start_reimage_delete_round(emu: Emulator, clock: FakeClock) -> None:
    name = created(emu, clock)
    emu.stop_node(name)
    clock.advance(10)
    emu.start_node(name)
    assert emu.get_node(name)["state"] == "STARTING"
    clock.advance(10)
    emu.reimage_node(name, {"tensorflowVersion": "2.9.1"})
    clock.advance(10)
    assert emu.get_node(name)["tensorflowVersion"] == "2.9.1"
    op = emu.delete_node(name, None)
    assert emu.get_node(name)["state"] == "DELETING"
    clock.advance(10)
    with pytest.raises(ApiError) as gone:
        emu.get_node(name)
    assert gone.value.status == "NOT_FOUND"
    assert emu.get_operation(op["name"])["response"] == {
        "@type": "type.googleapis.com/google.protobuf.Empty"
    }


def test_stop_on_a_pod_is_refused(emu: Emulator, clock: FakeClock) -> None:
    name = created(emu, clock, acceleratorType="v3-32")
    with pytest.raises(ApiError) as refused:
        emu.stop_node(name)
    assert (refused.value.status, refused.value.http) == ("FAILED_PRECONDITION", 400)


@pytest.mark.parametrize("state", ["PREEMPTED", "TERMINATED"])
def test_start_after_preemption_is_refused(emu: Emulator, clock: FakeClock, state: str) -> None:
    name = created(emu, clock)
    emu.inject(name, {"state": state, "health": ""})
    with pytest.raises(ApiError) as refused:
        emu.start_node(name)
    assert refused.value.status == "FAILED_PRECONDITION" and "recreate" in refused.value.message


def test_second_mutation_while_one_runs_is_refused(emu: Emulator, clock: FakeClock) -> None:
    name = created(emu, clock)
    emu.stop_node(name)
    for second in (
        lambda: emu.reimage_node(name, {"tensorflowVersion": "2.9.1"}),
        lambda: emu.delete_node(name, None),
    ):
        with pytest.raises(ApiError) as refused:
            second()
        assert refused.value.status == "FAILED_PRECONDITION"
        assert "in progress" in refused.value.message


def test_same_request_id_returns_the_same_operation(emu: Emulator) -> None:
    first = emu.create_node(PARENT, "n1", "req-7", SPEC)
    again = emu.create_node(PARENT, "n1", "req-7", SPEC)
    assert first["name"] == again["name"]
    assert len(emu.list_operations(PARENT, None, None)["operations"]) == 1
    with pytest.raises(ApiError) as duplicate:
        emu.create_node(PARENT, "n1", "req-8", SPEC)
    assert (duplicate.value.status, duplicate.value.http) == ("ALREADY_EXISTS", 409)


@pytest.mark.parametrize(
    ("node_id", "body", "needle"),
    [
        ("n", {"tensorflowVersion": "2.12.0"}, "acceleratorType is required"),
        ("n", {"acceleratorType": "v3-8"}, "tensorflowVersion is required"),
        ("n", {**SPEC, "acceleratorType": "v9-8"}, "not available in zone"),
        ("n", {**SPEC, "tensorflowVersion": "0.1"}, "not available in zone"),
        ("Bad", SPEC, "Invalid nodeId"),
        ("-x", SPEC, "Invalid nodeId"),
        ("x" * 64, SPEC, "Invalid nodeId"),
        ("n", {**SPEC, "cidrBlock": "10.0.0.0/28"}, "must be a /29"),
        ("n", {**SPEC, "cidrBlock": "10.0.0.3/29"}, "not a valid"),
        ("n", {**SPEC, "cidrBlock": "nonsense"}, "not a valid"),
        ("n", {**SPEC, "description": "d" * 513}, "512"),
        ("n", {**SPEC, "bogus": 1}, "Unknown name"),
    ],
)
def test_create_validation(emu: Emulator, node_id: str, body: dict, needle: str) -> None:
    with pytest.raises(ApiError) as refused:
        emu.create_node(PARENT, node_id, None, body)
    assert refused.value.status == "INVALID_ARGUMENT" and needle in refused.value.message


def test_cidr_block_cannot_be_reused(emu: Emulator, clock: FakeClock) -> None:
    created(emu, clock, "a", cidrBlock="10.1.0.0/29")
    with pytest.raises(ApiError) as refused:
        emu.create_node(PARENT, "b", None, {**SPEC, "cidrBlock": "10.1.0.0/29"})
    assert "already used" in refused.value.message
    # Once the first node is gone, its block is free again.
    emu.delete_node(f"{PARENT}/nodes/a", None)
    clock.advance(10)
    emu.create_node(PARENT, "b", None, {**SPEC, "cidrBlock": "10.1.0.0/29"})


def test_stockout_fails_the_operation_with_code_8(emu: Emulator, clock: FakeClock) -> None:
    emu.set_faults({"stockout": ["us-central1-b"]})
    op = emu.create_node(PARENT, "n1", None, SPEC)
    clock.advance(10)
    done = emu.get_operation(op["name"])
    assert done["done"] and done["error"]["code"] == 8 and "capacity" in done["error"]["message"]
    assert "response" not in done
    with pytest.raises(ApiError):
        emu.get_node(f"{PARENT}/nodes/n1")


def test_unknown_operation_and_bad_names(emu: Emulator) -> None:
    with pytest.raises(ApiError) as missing:
        emu.get_operation(f"{PARENT}/operations/operation-1-00")
    assert missing.value.http == 404
    with pytest.raises(ApiError) as bad:
        emu.get_node("projects/p1/nodes/x")
    assert bad.value.status == "INVALID_ARGUMENT"


def test_inject_changes_what_the_api_reports(emu: Emulator, clock: FakeClock) -> None:
    name = created(emu, clock)
    emu.inject(
        name,
        {
            "health": "UNHEALTHY_TENSORFLOW",
            "healthDescription": "tf crashed",
            "symptoms": [{"symptomType": "OUT_OF_MEMORY", "workerId": "0"}],
        },
    )
    node = emu.get_node(name)
    assert node["health"] == "UNHEALTHY_TENSORFLOW" and node["symptoms"][0]["workerId"] == "0"
    with pytest.raises(ApiError):
        emu.inject(name, {"state": "ON_FIRE"})


def test_seeded_fleet_is_deterministic_and_realistic(clock: FakeClock) -> None:
    a = Emulator(clock=clock, fleet=300, projects=4)
    b = Emulator(clock=clock, fleet=300, projects=4)
    assert a.node_names() == b.node_names() and len(a.node_names()) == 300
    nodes = [a.get_node(n) for n in a.node_names()]
    states = {n["state"] for n in nodes}
    assert {"READY", "STOPPED"} <= states
    assert any(n.get("health", "HEALTHY") != "HEALTHY" and n.get("symptoms") for n in nodes)
    assert len({n["name"].split("/")[1] for n in nodes}) == 4
    assert len({n["name"].split("/")[3] for n in nodes}) >= 5
    assert 0.15 < sum(n["schedulingConfig"]["preemptible"] for n in nodes) / 300 < 0.45
    a.reset()
    assert a.node_names() == b.node_names()
