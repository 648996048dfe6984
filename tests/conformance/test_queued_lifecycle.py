"""Queued resources and the v2 fleet as a state machine, moved by an injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.admin import admin
from devstack.clock import FakeClock
from tpu_emulator import ApiError, Emulator
from tpu_emulator.http import RunningServer
from tpu_emulator.server import serve

PARENT = "projects/p1/locations/us-west4-a"
NODE = {"acceleratorType": "v5litepod-8", "runtimeVersion": "v2-alpha-tpuv5-lite"}


@pytest.fixture
def emu(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock, op_seconds=10)


def request(node_id: str = "vm", **extra: Any) -> dict[str, Any]:
    return {"tpu": {"nodeSpec": [{"parent": PARENT, "nodeId": node_id, "node": NODE}]}, **extra}


def state(emu: Emulator, qr_id: str = "qr") -> str:
    return str(emu.get_queued_resource(f"{PARENT}/queuedResources/{qr_id}")["state"]["state"])


def node_state(emu: Emulator, node_id: str = "vm") -> str:
    return str(emu.v2_get_node(f"{PARENT}/nodes/{node_id}")["state"])


def test_accepted_then_provisioning_then_active(emu: Emulator, clock: FakeClock) -> None:
    op = emu.create_queued_resource(PARENT, "qr", None, request())
    assert op["metadata"]["verb"] == "create" and state(emu) == "ACCEPTED"
    with pytest.raises(ApiError):
        emu.v2_get_node(f"{PARENT}/nodes/vm")
    clock.advance(10)
    assert state(emu) == "PROVISIONING" and node_state(emu) == "CREATING"
    assert emu.get_operation(op["name"])["response"]["state"]["state"] == "ACCEPTED"
    clock.advance(10)
    assert state(emu) == "ACTIVE" and node_state(emu) == "READY"
    node = emu.v2_get_node(f"{PARENT}/nodes/vm")
    assert node["queuedResource"] == f"{PARENT}/queuedResources/qr"
    assert "multisliceNode" not in node


def test_valid_after_keeps_it_accepted(emu: Emulator, clock: FakeClock) -> None:
    emu.create_queued_resource(
        PARENT, "qr", None, request(queueingPolicy={"validAfterDuration": "3600s"})
    )
    clock.advance(3599)
    assert state(emu) == "ACCEPTED"
    clock.advance(1)
    assert state(emu) == "PROVISIONING"


def test_stockout_waits_until_capacity_returns(emu: Emulator, clock: FakeClock) -> None:
    emu.set_faults({"stockout": ["us-west4-a"]})
    emu.create_queued_resource(PARENT, "qr", None, request())
    clock.advance(600)
    assert state(emu) == "WAITING_FOR_RESOURCES"
    emu.set_faults({"stockout": []})
    assert state(emu) == "PROVISIONING"
    clock.advance(10)
    assert state(emu) == "ACTIVE"


def test_valid_until_fails_a_waiting_request(emu: Emulator, clock: FakeClock) -> None:
    emu.set_faults({"stockout": ["us-west4-a"]})
    policy = {"validUntilDuration": "1800s"}
    emu.create_queued_resource(PARENT, "qr", None, request(queueingPolicy=policy))
    clock.advance(1799)
    assert state(emu) == "WAITING_FOR_RESOURCES"
    clock.advance(1)
    failed = emu.get_queued_resource(f"{PARENT}/queuedResources/qr")["state"]
    assert failed["state"] == "FAILED" and failed["failedData"]["error"]["code"] == 8
    emu.delete_queued_resource(f"{PARENT}/queuedResources/qr")  # FAILED: no force needed
    clock.advance(10)
    assert emu.list_queued_resources(PARENT, None, None) == {}


def test_quota_and_stockout_are_told_apart(emu: Emulator, clock: FakeClock) -> None:
    emu.set_faults({"quota": ["us-west4-a"]})
    emu.create_queued_resource(PARENT, "qr", None, request())
    clock.advance(10)
    error = emu.get_queued_resource(f"{PARENT}/queuedResources/qr")["state"]["failedData"]
    assert error["error"]["code"] == 8 and "Quota" in error["error"]["message"]
    assert "capacity" not in error["error"]["message"]
    emu.set_faults({"quota": [], "stockout": ["us-west4-a"]})
    op = emu.v2_create_node(PARENT, "direct", NODE)
    clock.advance(10)
    done = emu.get_operation(op["name"])
    assert done["error"]["code"] == 8 and "no more capacity" in done["error"]["message"]


def test_multislice_makes_n_nodes(emu: Emulator, clock: FakeClock) -> None:
    spec = {"parent": PARENT, "node": NODE, "multisliceParams": {"nodeCount": 3}}
    emu.create_queued_resource(PARENT, "ms", None, {"tpu": {"nodeSpec": [spec]}})
    clock.advance(20)
    names = [n for n in emu.node_names("p1")]
    assert names == [f"{PARENT}/nodes/ms-{i}" for i in range(3)]
    assert all(emu.v2_get_node(n)["multisliceNode"] for n in names)
    prefixed = {**spec, "multisliceParams": {"nodeCount": 2, "nodeIdPrefix": "np"}}
    emu.create_queued_resource(PARENT, "ms2", None, {"tpu": {"nodeSpec": [prefixed]}})
    clock.advance(20)
    assert f"{PARENT}/nodes/np-1" in emu.node_names("p1")


def test_delete_needs_force_while_nodes_run(emu: Emulator, clock: FakeClock) -> None:
    emu.create_queued_resource(PARENT, "qr", None, request())
    clock.advance(20)
    name = f"{PARENT}/queuedResources/qr"
    with pytest.raises(ApiError) as refused:
        emu.delete_queued_resource(name)
    assert refused.value.status == "FAILED_PRECONDITION"
    first = emu.delete_queued_resource(name, force=True, request_id="d1")
    assert emu.delete_queued_resource(name, force=True, request_id="d1") == first
    assert node_state(emu) == "DELETING" and state(emu) == "DELETING"
    clock.advance(10)
    assert emu.node_names("p1") == [] and emu.queued_resource_names("p1") == []


def test_deleting_its_node_suspends_the_request(emu: Emulator, clock: FakeClock) -> None:
    emu.create_queued_resource(PARENT, "qr", None, request())
    clock.advance(20)
    emu.v2_delete_node(f"{PARENT}/nodes/vm")
    clock.advance(10)
    suspended = emu.get_queued_resource(f"{PARENT}/queuedResources/qr")["state"]
    assert suspended == {"state": "SUSPENDED", "stateInitiator": "USER", "suspendedData": {}}
    emu.delete_queued_resource(f"{PARENT}/queuedResources/qr")


@pytest.mark.parametrize("when", [0, 10, 20])
def test_reset_only_from_failed_or_suspended(emu: Emulator, clock: FakeClock, when: int) -> None:
    emu.create_queued_resource(PARENT, "qr", None, request())
    clock.advance(when)
    with pytest.raises(ApiError) as refused:
        emu.reset_queued_resource(f"{PARENT}/queuedResources/qr")
    assert refused.value.status == "FAILED_PRECONDITION"


def test_preempted_spot_vm_stays_until_deleted(emu: Emulator, clock: FakeClock) -> None:
    emu.create_queued_resource(PARENT, "qr", None, request(spot={}))
    clock.advance(20)
    emu.inject(f"{PARENT}/nodes/vm", {"state": "PREEMPTED", "health": ""})
    clock.advance(3600)
    assert node_state(emu) == "PREEMPTED" and state(emu) == "SUSPENDED"
    with pytest.raises(ApiError) as refused:
        emu.v2_start_node(f"{PARENT}/nodes/vm")
    assert "recreate" in refused.value.message
    emu.reset_queued_resource(f"{PARENT}/queuedResources/qr")
    clock.advance(10)
    assert node_state(emu) == "CREATING"  # the old VM went, a new one is provisioning
    clock.advance(10)
    assert state(emu) == "ACTIVE" and emu.v2_get_node(f"{PARENT}/nodes/vm")["schedulingConfig"] == {
        "spot": True
    }


def test_cancelling_the_create_drops_the_request(emu: Emulator) -> None:
    op = emu.create_queued_resource(PARENT, "qr", None, request())
    emu.cancel_operation(op["name"])
    assert emu.queued_resource_names() == []
    assert emu.get_operation(op["name"])["error"]["code"] == 1


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "nodeSpec is required"),
        (request(spot={}, guaranteed={}), "mutually exclusive"),
        (request(queueingPolicy={"validUntilDuration": "soon"}), "duration"),
        (
            request(queueingPolicy={"validAfterDuration": "60s", "validUntilDuration": "30s"}),
            "after valid after",
        ),
        ({"tpu": {"nodeSpec": [{"parent": "projects/p1/locations/x", "nodeId": "v"}]}}, "parent"),
        (
            {"tpu": {"nodeSpec": [{"parent": PARENT, "node": NODE, "multisliceParams": {}}]}},
            "nodeCount",
        ),
        (request(node_id="Bad"), "Invalid nodeId"),
        ({"tpu": {"nodeSpec": [{"parent": PARENT, "nodeId": "v", "node": {}}]}}, "required"),
        (request(bogus=1), "Unknown name"),
    ],
)
def test_create_validation(emu: Emulator, body: dict[str, Any], needle: str) -> None:
    with pytest.raises(ApiError) as refused:
        emu.create_queued_resource(PARENT, "qr", None, body)
    assert refused.value.status == "INVALID_ARGUMENT" and needle in refused.value.message


def test_existing_node_ids_and_names_are_refused(emu: Emulator, clock: FakeClock) -> None:
    emu.v2_create_node(PARENT, "vm", NODE)
    with pytest.raises(ApiError) as taken:
        emu.create_queued_resource(PARENT, "qr", None, request("vm"))
    assert taken.value.status == "ALREADY_EXISTS"
    emu.create_queued_resource(PARENT, "qr", None, request("other"))
    with pytest.raises(ApiError) as again:
        emu.create_queued_resource(PARENT, "qr", None, request("third"))
    assert again.value.status == "ALREADY_EXISTS"


def test_seeded_fleet_is_mixed_and_deterministic(clock: FakeClock) -> None:
    a = Emulator(clock=clock, fleet=120, projects=6)
    b = Emulator(clock=clock, fleet=120, projects=6)
    assert (
        a.node_names() == b.node_names() and a.queued_resource_names() == b.queued_resource_names()
    )
    assert [a.get_queued_resource(n) for n in a.queued_resource_names()] == [
        b.get_queued_resource(n) for n in b.queued_resource_names()
    ]
    nodes = [a.v2_get_node(n) for n in a.node_names()]
    by_project: dict[str, set[str]] = {}
    for node in nodes:
        by_project.setdefault(node["name"].split("/")[1], set()).add(node["apiVersion"])
    assert all(by_project[p] == {"V1_ALPHA1"} for p in ("ml-prod", "ml-research", "ml-sandbox"))
    assert all(by_project[p] == {"V2"} for p in ("ml-infra", "ml-vision", "ml-speech"))
    v2 = [n for n in nodes if n["apiVersion"] == "V2"]
    assert {n["acceleratorConfig"]["type"] for n in v2} >= {"V5LITE_POD", "V5P", "V6E"}
    assert any(n.get("queuedResource") for n in v2) and any(not n.get("queuedResource") for n in v2)
    assert any(n["schedulingConfig"].get("spot") for n in v2)
    assert any(n["state"] == "PREEMPTED" and n["schedulingConfig"]["spot"] for n in v2)
    assert sum("upcomingMaintenance" in n for n in nodes) == 1
    states = {a.get_queued_resource(n)["state"]["state"] for n in a.queued_resource_names()}
    assert {"ACTIVE", "WAITING_FOR_RESOURCES", "SUSPENDED", "FAILED"} <= states
    for project in ("ml-prod", "ml-research", "ml-sandbox"):  # node-less requests only
        for name in a.queued_resource_names(project):
            assert a.get_queued_resource(name)["state"]["state"] != "ACTIVE"
    clock.advance(7 * 86400)  # seeded waiters wait for capacity that never comes on its own
    assert (
        a.get_queued_resource(
            "projects/ml-prod/locations/us-east5-a/queuedResources/pretrain-v5p-128"
        )["state"]["state"]
        == "WAITING_FOR_RESOURCES"
    )
    assert a.node_names() == b.node_names()


def test_first_projects_keep_their_v1alpha1_nodes(clock: FakeClock) -> None:
    """The mix comes from later projects: the first three are what v1alpha1 seeding made."""
    from tpu_emulator import catalog

    mixed = Emulator(clock=clock, fleet=60, projects=3)
    expected = sorted(
        f"projects/{s.project}/locations/{s.zone}/nodes/{s.node_id}"
        for s in catalog.seed_fleet(60, 3, clock(), 7)
    )
    assert mixed.node_names() == expected
    assert mixed.stats_json()["projects"] == ["ml-prod", "ml-research", "ml-sandbox"]
    assert mixed.stats_json()["nodes"] == 60


@pytest.fixture
def server(emu: Emulator) -> Any:
    running = serve(emu)
    yield running
    running.close()


def test_admin_injects_queued_resources_and_maintenance(
    emu: Emulator, server: RunningServer, clock: FakeClock
) -> None:
    emu.create_queued_resource(PARENT, "qr", None, request())
    clock.advance(20)
    name = f"{PARENT}/queuedResources/qr"
    injected = admin(
        server,
        f"{name}:inject",
        {
            "state": "FAILED",
            "stateInitiator": "SERVICE",
            "createTime": "2026-11-24T01:00:00Z",
            "failedData": {"error": {"code": 8, "message": "stockout"}},
        },
    )
    assert injected["createTime"] == "2026-11-24T01:00:00.000000Z"
    assert injected["state"]["failedData"] == {"error": {"code": 8, "message": "stockout"}}
    window = {"type": "SCHEDULED", "windowStartTime": "2026-11-26T00:00:00Z", "canReschedule": True}
    admin(server, f"{PARENT}/nodes/vm:inject", {"upcomingMaintenance": window})
    maintenance = emu.v2_get_node(f"{PARENT}/nodes/vm")["upcomingMaintenance"]
    assert maintenance["maintenanceStatus"] == "PENDING" and maintenance["canReschedule"]
    for path, bad in (
        (f"{name}:inject", {"state": "SLEEPING"}),
        (f"{name}:inject", {"health": "HEALTHY"}),
        (f"{PARENT}/nodes/vm:inject", {"upcomingMaintenance": {"type": "SOMETIME"}}),
    ):
        with pytest.raises(Exception, match="400"):
            admin(server, path, bad)


def test_faults_apply_to_v2_by_its_own_keys(emu: Emulator, server: RunningServer) -> None:
    import urllib.error
    import urllib.request

    admin(server, "faults", {"failNext": 1, "methods": ["v2.nodes.list"]})
    v1 = f"{server.url}/v1alpha1/{PARENT}/nodes"
    v2 = f"{server.url}/v2/{PARENT}/nodes"
    with urllib.request.urlopen(v1, timeout=10) as ok:
        assert ok.status == 200
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(v2, timeout=10)
    assert failed.value.code == 503
    failed.value.close()
    stats = admin(server, "stats")["requests"]
    assert stats == {"nodes.list": 1, "v2.nodes.list": 1}


def test_v1alpha1_sees_a_tpu_vm_but_cannot_reimage_it(emu: Emulator, clock: FakeClock) -> None:
    emu.v2_create_node(PARENT, "vm", NODE)
    clock.advance(10)
    listed = emu.list_nodes("projects/p1/locations/-", None, None)["nodes"]
    assert [(n["tensorflowVersion"], n["apiVersion"]) for n in listed] == [
        ("v2-alpha-tpuv5-lite", "V2_ALPHA1")
    ]
    with pytest.raises(ApiError) as refused:
        emu.reimage_node(f"{PARENT}/nodes/vm", {"tensorflowVersion": "2.12.0"})
    assert refused.value.status == "FAILED_PRECONDITION" and "TPU VM" in refused.value.message
    stopped = emu.stop_node(f"{PARENT}/nodes/vm")  # v1alpha1's stop still works on it
    assert stopped["metadata"]["apiVersion"] == "v1alpha1"


@pytest.mark.parametrize(
    "policy",
    [
        {"validInterval": {"startTime": "2026-11-24T10:00:00Z", "endTime": "2026-11-24T12:00:00Z"}},
        {"validAfterTime": "2026-11-24T10:00:00Z", "validUntilTime": "2026-11-24T12:00:00Z"},
    ],
)
def test_absolute_queueing_windows(emu: Emulator, clock: FakeClock, policy: dict) -> None:
    """The clock starts at 09:00: provisioning waits for 10:00; a stockout past 12:00 fails."""
    emu.create_queued_resource(PARENT, "qr", None, request(queueingPolicy=policy))
    clock.advance(3599)
    assert state(emu) == "ACCEPTED"
    emu.set_faults({"stockout": ["us-west4-a"]})
    clock.advance(1)
    assert state(emu) == "WAITING_FOR_RESOURCES"
    clock.advance(7200)
    assert state(emu) == "FAILED"
    assert emu.get_queued_resource(f"{PARENT}/queuedResources/qr")["queueingPolicy"] == policy


def test_guaranteed_takes_a_duration(emu: Emulator) -> None:
    with pytest.raises(ApiError) as refused:
        emu.create_queued_resource(PARENT, "qr", None, request(guaranteed={"minDuration": "1h"}))
    assert "duration" in refused.value.message
    emu.create_queued_resource(PARENT, "qr", None, request(guaranteed={"minDuration": "3600s"}))
    got = emu.get_queued_resource(f"{PARENT}/queuedResources/qr")
    assert got["guaranteed"] == {"minDuration": "3600s"} and "spot" not in got
