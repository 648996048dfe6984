"""The v2 REST paths of `tpu.v2.json`. Stats keys are `v2.` + the discovery id without
`tpu.projects.locations.` (`v2.nodes.list`, `v2.queuedResources.reset`, `v2.locations.get`)."""

from __future__ import annotations

from tpu_emulator.routes import LIST, LOC, parent_of, route, target, to_bool, to_int

_NODE = f"{LOC}/nodes/[^/:]+"
_QR = f"{LOC}/queuedResources/[^/:]+"
_OP = f"{LOC}/operations/[^/:]+"


def _page(q: dict[str, str]) -> tuple[int | None, str | None]:
    return to_int(q, "pageSize"), q.get("pageToken")


ROUTES = [
    route(
        "GET",
        r"projects/[^/]+/locations",
        "v2.locations.list",
        ("filter", "extraLocationTypes", *LIST),
        lambda e, n, q, b: e.list_locations(
            n.rsplit("/locations", 1)[0], *_page(q), q.get("filter", "")
        ),
    ),
    route("GET", LOC, "v2.locations.get", (), lambda e, n, q, b: e.get_location(n)),
    route(
        "POST",
        f"{LOC}:generateServiceIdentity",
        "v2.locations.generateServiceIdentity",
        (),
        lambda e, n, q, b: e.generate_service_identity(target(n)),
    ),
    # nodes
    route(
        "GET",
        f"{LOC}/nodes",
        "v2.nodes.list",
        LIST,
        lambda e, n, q, b: e.v2_list_nodes(parent_of(n, "nodes"), *_page(q)),
    ),
    route(
        "POST",
        f"{LOC}/nodes",
        "v2.nodes.create",
        ("nodeId",),
        lambda e, n, q, b: e.v2_create_node(parent_of(n, "nodes"), q.get("nodeId"), b),
    ),
    route("GET", _NODE, "v2.nodes.get", (), lambda e, n, q, b: e.v2_get_node(n)),
    route("DELETE", _NODE, "v2.nodes.delete", (), lambda e, n, q, b: e.v2_delete_node(n)),
    route(
        "PATCH",
        _NODE,
        "v2.nodes.patch",
        ("updateMask",),
        lambda e, n, q, b: e.v2_patch_node(n, q.get("updateMask"), b),
    ),
    route(
        "POST", f"{_NODE}:stop", "v2.nodes.stop", (), lambda e, n, q, b: e.v2_stop_node(target(n))
    ),
    route(
        "POST",
        f"{_NODE}:start",
        "v2.nodes.start",
        (),
        lambda e, n, q, b: e.v2_start_node(target(n)),
    ),
    route(
        "POST",
        f"{_NODE}:getGuestAttributes",
        "v2.nodes.getGuestAttributes",
        (),
        lambda e, n, q, b: e.v2_guest_attributes(target(n), b),
    ),
    # queued resources
    route(
        "GET",
        f"{LOC}/queuedResources",
        "v2.queuedResources.list",
        LIST,
        lambda e, n, q, b: e.list_queued_resources(parent_of(n, "queuedResources"), *_page(q)),
    ),
    route(
        "POST",
        f"{LOC}/queuedResources",
        "v2.queuedResources.create",
        ("queuedResourceId", "requestId"),
        lambda e, n, q, b: e.create_queued_resource(
            parent_of(n, "queuedResources"), q.get("queuedResourceId"), q.get("requestId"), b
        ),
    ),
    route("GET", _QR, "v2.queuedResources.get", (), lambda e, n, q, b: e.get_queued_resource(n)),
    route(
        "DELETE",
        _QR,
        "v2.queuedResources.delete",
        ("force", "requestId"),
        lambda e, n, q, b: e.delete_queued_resource(n, to_bool(q, "force"), q.get("requestId")),
    ),
    route(
        "POST",
        f"{_QR}:reset",
        "v2.queuedResources.reset",
        (),
        lambda e, n, q, b: e.reset_queued_resource(target(n)),
    ),
    # operations (shared with v1alpha1)
    route(
        "GET",
        f"{LOC}/operations",
        "v2.operations.list",
        ("filter", "returnPartialSuccess", *LIST),
        lambda e, n, q, b: e.list_operations(
            parent_of(n, "operations"),
            *_page(q),
            to_bool(q, "returnPartialSuccess"),
            "v2",
            q.get("filter", ""),
        ),
    ),
    route("GET", _OP, "v2.operations.get", (), lambda e, n, q, b: e.get_operation(n, "v2")),
    route("DELETE", _OP, "v2.operations.delete", (), lambda e, n, q, b: e.delete_operation(n)),
    route(
        "POST",
        f"{_OP}:cancel",
        "v2.operations.cancel",
        (),
        lambda e, n, q, b: e.cancel_operation(target(n)),
    ),
]
for _kind in ("acceleratorTypes", "runtimeVersions"):
    ROUTES += [
        route(
            "GET",
            f"{LOC}/{_kind}",
            f"v2.{_kind}.list",
            ("filter", "orderBy", *LIST),
            lambda e, n, q, b, k=_kind: e.list_offers(
                "v2", k, parent_of(n, k), *_page(q), q.get("filter", ""), q.get("orderBy", "")
            ),
        ),
        route(
            "GET",
            f"{LOC}/{_kind}/[^/]+",
            f"v2.{_kind}.get",
            (),
            lambda e, n, q, b, k=_kind: e.get_offer("v2", k, n),
        ),
    ]
