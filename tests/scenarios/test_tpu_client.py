"""TpuClient against the emulator over HTTP: pagination, partial data, retries, errors, threads.

These speak v1alpha1 to the emulator's first projects (its TPU Nodes); v2 is in
test_tpu_client_v2.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.core import noderef
from bot.core.models import NodeSpec, NodeState
from bot.tpu.client import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ProjectScope,
    ResourceExhausted,
    TpuClient,
    Unavailable,
)
from devstack.admin import admin
from devstack.clock import FakeClock
from tpu_emulator import Emulator, catalog
from tpu_emulator.http import RunningServer

SPEC = NodeSpec(accelerator_type="v3-8", tensorflow_version="2.12.0")
V1 = {"ml-prod": "v1alpha1", "ml-research": "v1alpha1", "ml-sandbox": "v1alpha1"}


@pytest.fixture
def tpu(emulator_server: RunningServer) -> TpuClient:
    return TpuClient(emulator_server.url, apis=V1, retries=3, backoff_seconds=0.001, timeout=10)


def requests(server: RunningServer, method: str) -> int:
    return int(admin(server, "stats")["requests"].get(method, 0))


def test_wildcard_listing_follows_pages_across_zones(
    emulator_server: RunningServer, emulator: Emulator
) -> None:
    client = TpuClient(emulator_server.url, apis=V1, page_size=3, retries=0)
    listing = client.list_nodes("ml-prod")
    expected = emulator.node_names("ml-prod")
    assert [n.name for n in listing.nodes] == expected
    assert len({n.zone for n in listing.nodes}) > 3 and listing.complete
    assert requests(emulator_server, "nodes.list") == -(-len(expected) // 3)


def test_listing_given_zones_only(tpu: TpuClient, emulator: Emulator) -> None:
    zones = ("us-central1-b", "europe-west4-a")
    listing = tpu.list_nodes("ml-prod", zones)
    assert {n.zone for n in listing.nodes} <= set(zones)
    assert len(listing.nodes) == sum(
        1 for n in emulator.node_names("ml-prod") if n.split("/")[3] in zones
    )


def test_pages_neither_repeat_nor_skip_while_other_nodes_change(
    emulator_server: RunningServer, emulator: Emulator
) -> None:
    client = TpuClient(emulator_server.url, apis=V1, page_size=4, retries=0)
    before = set(emulator.node_names("ml-prod"))
    collection = client.v1alpha1.nodes
    request = collection.list(parent="projects/ml-prod/locations/-", pageSize=4)
    seen: list[str] = []
    churn = 0
    while request is not None:
        page = client.v1alpha1.execute("nodes.list", request)
        seen.extend(n["name"] for n in page.get("nodes", []))
        # Between pages, other nodes come and go.
        emulator.create_node(
            "projects/ml-prod/locations/us-central1-b", f"churn-{churn}", None, SPEC.as_dict()
        )
        churn += 1
        request = collection.list_next(request, page)
    unchanged = before
    assert len(seen) == len(set(seen)), "a node was listed twice"
    assert unchanged <= set(seen), "an unchanged node was skipped"


def test_unreachable_zone_makes_a_partial_listing(
    tpu: TpuClient, emulator_server: RunningServer, emulator: Emulator
) -> None:
    admin(emulator_server, "faults", {"unreachable": ["us-central1-b"]})
    listing = tpu.list_nodes("ml-prod")
    assert not listing.complete
    assert listing.unreachable == ("projects/ml-prod/locations/us-central1-b",)
    assert all(n.zone != "us-central1-b" for n in listing.nodes)
    zonal = tpu.list_nodes("ml-prod", ("us-central1-b", "us-central1-a"))
    assert zonal.unreachable == ("projects/ml-prod/locations/us-central1-b",)
    assert zonal.nodes and all(n.zone == "us-central1-a" for n in zonal.nodes)


@pytest.mark.parametrize("code", [503, 429, 500])
def test_transient_errors_are_retried_then_succeed(
    tpu: TpuClient, emulator_server: RunningServer, code: int
) -> None:
    admin(emulator_server, "faults", {"failNext": 2, "errorCode": code})
    node = tpu.list_nodes("ml-prod").nodes[0]
    assert tpu.get_node(node.name) == node
    assert requests(emulator_server, "nodes.list") == 3


def test_retries_are_bounded(emulator_server: RunningServer) -> None:
    client = TpuClient(emulator_server.url, apis=V1, retries=2, backoff_seconds=0.001)
    admin(emulator_server, "faults", {"errorRate": 1.0, "errorCode": 503})
    with pytest.raises(Unavailable) as caught:
        client.list_nodes("ml-prod")
    assert caught.value.retryable
    assert requests(emulator_server, "nodes.list") == 3


def test_client_errors_are_not_retried(tpu: TpuClient, emulator_server: RunningServer) -> None:
    with pytest.raises(NotFound) as caught:
        tpu.get_node("projects/ml-prod/locations/us-central1-b/nodes/missing")
    assert not caught.value.retryable and "missing" in caught.value.message
    assert requests(emulator_server, "nodes.get") == 1


def test_a_retried_mutation_is_applied_once(
    tpu: TpuClient, emulator_server: RunningServer, clock: FakeClock
) -> None:
    # The first create takes effect but its response is lost; the retry carries the same requestId.
    admin(
        emulator_server,
        "faults",
        {"failNext": 1, "errorCode": 503, "afterApply": True, "methods": ["nodes.create"]},
    )
    op = tpu.create_node("ml-prod", "us-central1-b", "once", SPEC)
    assert requests(emulator_server, "nodes.create") == 2
    ops = tpu.list_operations("ml-prod", "us-central1-b")
    assert [o.name for o in ops if o.target.endswith("/once")] == [op.name]
    clock.advance(11)
    admin(
        emulator_server, "faults", {"failNext": 1, "afterApply": True, "methods": ["nodes.delete"]}
    )
    deleting = tpu.delete_node(op.target)
    assert [o.name for o in tpu.list_operations("ml-prod") if o.verb == "delete"] == [deleting.name]


def test_typed_errors(tpu: TpuClient, emulator_server: RunningServer, clock: FakeClock) -> None:
    op = tpu.create_node("ml-prod", "us-central1-b", "typed", SPEC)
    with pytest.raises(AlreadyExists):
        tpu.create_node("ml-prod", "us-central1-b", "typed", SPEC)
    with pytest.raises(InvalidArgument) as bad:
        tpu.create_node("ml-prod", "us-central1-b", "x2", NodeSpec("v3-8", "2.12.0", "10.2.0.0/24"))
    assert "/29" in bad.value.message
    with pytest.raises(FailedPrecondition) as busy:
        tpu.stop_node(op.target)
    assert not busy.value.retryable
    clock.advance(11)
    assert tpu.get_operation(op.name).succeeded
    pod = tpu.create_node("ml-prod", "us-central1-b", "pod", NodeSpec("v3-32", "2.12.0"))
    clock.advance(11)
    with pytest.raises(FailedPrecondition):
        tpu.stop_node(pod.target)
    admin(emulator_server, "faults", {"permissionDenied": ["ml-research"]})
    with pytest.raises(PermissionDenied):
        tpu.list_nodes("ml-research")
    admin(emulator_server, "faults", {"permissionDenied": [], "failNext": 9, "errorCode": 429})
    client = TpuClient(tpu.endpoint, apis=V1, retries=0)
    with pytest.raises(ResourceExhausted) as limited:
        client.list_nodes("ml-prod")
    assert limited.value.retryable


def test_operation_lifecycle_through_client(tpu: TpuClient, clock: FakeClock) -> None:
    node = next(
        n
        for n in tpu.list_nodes("ml-prod").nodes
        if n.state is NodeState.READY and not n.is_multi_host
    )
    op = tpu.stop_node(node.name)
    assert not op.done and op.verb == "stop" and op.target == node.name
    clock.advance(11)
    done = tpu.get_operation(op.name)
    assert done.succeeded and done.node is not None and done.node.state is NodeState.STOPPED
    started = tpu.start_node(node.name)
    tpu.cancel_operation(started.name)
    cancelled = tpu.get_operation(started.name)
    assert cancelled.error is not None and cancelled.error.code_name == "CANCELLED"
    reimage = tpu.start_node(node.name)
    clock.advance(11)
    assert tpu.get_operation(reimage.name).succeeded
    assert tpu.reimage_node(node.name, "2.9.1").verb == "reimage"


def test_catalog_methods(tpu: TpuClient) -> None:
    zones = {loc.location_id for loc in tpu.list_locations("ml-prod")}
    assert {"us-central1-b", "europe-west4-a"} <= zones
    types = {t.type for t in tpu.list_accelerator_types("ml-prod", "us-east1-d")}
    assert types == {"v2-8", "v3-8"}
    versions = {v.version for v in tpu.list_tensorflow_versions("ml-prod", "us-central1-b")}
    assert "2.12.0" in versions


def test_unreachable_api_is_unavailable() -> None:
    client = TpuClient("http://127.0.0.1:9", retries=1, backoff_seconds=0.001, timeout=2)
    with pytest.raises(Unavailable) as caught:
        client.list_nodes("ml-prod")
    assert caught.value.retryable and "unreachable" in caught.value.message


def test_sixteen_threads_at_once(tpu: TpuClient, emulator: Emulator) -> None:
    names = emulator.node_names()[:48]

    def work(i: int) -> tuple[int, str]:
        listing = tpu.list_nodes(f"ml-{['prod', 'research', 'sandbox'][i % 3]}")
        return len(listing.nodes), tpu.get_node(names[i]).name

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(work, range(48)))
    assert [name for _, name in results] == names
    counts = {p: len(emulator.node_names(p)) for p in ("ml-prod", "ml-research", "ml-sandbox")}
    assert [c for c, _ in results] == [
        counts[f"ml-{['prod', 'research', 'sandbox'][i % 3]}"] for i in range(48)
    ]


def test_resolve_references(tpu: TpuClient, emulator: Emulator) -> None:
    scopes = [ProjectScope("ml-prod"), ProjectScope("ml-research")]
    full = emulator.node_names("ml-research")[0]
    _, project, _, zone, _, node_id = full.split("/")
    for text in (node_id, f"{zone}/{node_id}", f"{project}/{zone}/{node_id}", full):
        assert tpu.resolve(text, scopes).name == full
    with pytest.raises(noderef.UnknownNode) as unknown:
        tpu.resolve(node_id[:-1], scopes)
    assert f"{project}/{zone}/{node_id}" in unknown.value.candidates
    with pytest.raises(noderef.UnknownNode) as unmanaged:
        tpu.resolve(f"ml-sandbox/{zone}/{node_id}", scopes)
    assert "not one this bot manages" in unmanaged.value.message
    spec = NodeSpec(catalog.ZONES[zone][0][0], catalog.ZONES[zone][1][0])
    emulator.create_node(f"projects/ml-prod/locations/{zone}", node_id, None, spec.as_dict())
    with pytest.raises(noderef.AmbiguousNode) as ambiguous:
        tpu.resolve(node_id, scopes)
    assert set(ambiguous.value.candidates) == {
        f"ml-prod/{zone}/{node_id}",
        f"ml-research/{zone}/{node_id}",
    }
