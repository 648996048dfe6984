"""The v1alpha1 REST paths of `tpu.v1alpha1.json`. Stats keys are the discovery ids without
`tpu.projects.locations.` (`nodes.list`, `locations.get`), as they always were."""

from __future__ import annotations

from tpu_emulator.routes import LIST, LOC, parent_of, route, target, to_bool, to_int

ROUTES = [
    route(
        "GET",
        r"projects/[^/]+/locations",
        "locations.list",
        ("filter", "extraLocationTypes", *LIST),
        lambda e, n, q, b: e.list_locations(
            n.rsplit("/locations", 1)[0], to_int(q, "pageSize"), q.get("pageToken")
        ),
    ),
    route("GET", LOC, "locations.get", (), lambda e, n, q, b: e.get_location(n)),
    route(
        "GET",
        f"{LOC}/nodes",
        "nodes.list",
        LIST,
        lambda e, n, q, b: e.list_nodes(
            parent_of(n, "nodes"), to_int(q, "pageSize"), q.get("pageToken")
        ),
    ),
    route(
        "POST",
        f"{LOC}/nodes",
        "nodes.create",
        ("nodeId", "requestId"),
        lambda e, n, q, b: e.create_node(
            parent_of(n, "nodes"), q.get("nodeId"), q.get("requestId"), b
        ),
    ),
    route("GET", f"{LOC}/nodes/[^/:]+", "nodes.get", (), lambda e, n, q, b: e.get_node(n)),
    route(
        "DELETE",
        f"{LOC}/nodes/[^/:]+",
        "nodes.delete",
        ("requestId",),
        lambda e, n, q, b: e.delete_node(n, q.get("requestId")),
    ),
    route(
        "POST",
        f"{LOC}/nodes/[^/:]+:stop",
        "nodes.stop",
        (),
        lambda e, n, q, b: e.stop_node(target(n)),
    ),
    route(
        "POST",
        f"{LOC}/nodes/[^/:]+:start",
        "nodes.start",
        (),
        lambda e, n, q, b: e.start_node(target(n)),
    ),
    route(
        "POST",
        f"{LOC}/nodes/[^/:]+:reimage",
        "nodes.reimage",
        (),
        lambda e, n, q, b: e.reimage_node(target(n), b),
    ),
    route(
        "GET",
        f"{LOC}/operations",
        "operations.list",
        ("filter", "returnPartialSuccess", *LIST),
        lambda e, n, q, b: e.list_operations(
            parent_of(n, "operations"),
            to_int(q, "pageSize"),
            q.get("pageToken"),
            to_bool(q, "returnPartialSuccess"),
            "v1alpha1",
        ),
    ),
    route(
        "GET",
        f"{LOC}/operations/[^/:]+",
        "operations.get",
        (),
        lambda e, n, q, b: e.get_operation(n, "v1alpha1"),
    ),
    route(
        "DELETE",
        f"{LOC}/operations/[^/:]+",
        "operations.delete",
        (),
        lambda e, n, q, b: e.delete_operation(n),
    ),
    route(
        "POST",
        f"{LOC}/operations/[^/:]+:cancel",
        "operations.cancel",
        (),
        lambda e, n, q, b: e.cancel_operation(target(n)),
    ),
]
for _kind in ("acceleratorTypes", "tensorflowVersions"):
    ROUTES += [
        route(
            "GET",
            f"{LOC}/{_kind}",
            f"{_kind}.list",
            ("filter", "orderBy", *LIST),
            lambda e, n, q, b, k=_kind: e.list_offers(
                "v1alpha1", k, parent_of(n, k), to_int(q, "pageSize"), q.get("pageToken")
            ),
        ),
        route(
            "GET",
            f"{LOC}/{_kind}/[^/]+",
            f"{_kind}.get",
            (),
            lambda e, n, q, b, k=_kind: e.get_offer("v1alpha1", k, n),
        ),
    ]
