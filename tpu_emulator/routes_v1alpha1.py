"""The REST paths of `tpu.v1alpha1.json` and `tpu.v1.json` (the same resources; v1 takes no
requestId on node create and delete). Stats keys are the discovery ids without
`tpu.projects.locations.`, as they always were for v1alpha1 (`nodes.list`, `locations.get`), and
with `v1.` in front for v1 (`v1.nodes.list`)."""

from __future__ import annotations

from tpu_emulator.routes import LIST, LOC, Route, parent_of, route, target, to_bool, to_int


def _nodes(api: str, key: str, request_ids: bool) -> list[Route]:
    rid = ("requestId",) if request_ids else ()
    node = f"{LOC}/nodes/[^/:]+"
    return [
        route(
            "GET",
            f"{LOC}/nodes",
            f"{key}nodes.list",
            LIST,
            lambda e, n, q, b: e._list_nodes(
                api, parent_of(n, "nodes"), to_int(q, "pageSize"), q.get("pageToken")
            ),
        ),
        route(
            "POST",
            f"{LOC}/nodes",
            f"{key}nodes.create",
            ("nodeId", *rid),
            lambda e, n, q, b: e.create_node(
                parent_of(n, "nodes"), q.get("nodeId"), q.get("requestId"), b, api
            ),
        ),
        route("GET", node, f"{key}nodes.get", (), lambda e, n, q, b: e._get_node(api, n)),
        route(
            "DELETE",
            node,
            f"{key}nodes.delete",
            rid,
            lambda e, n, q, b: e._delete_node(api, n, q.get("requestId")),
        ),
        route(
            "POST",
            f"{node}:stop",
            f"{key}nodes.stop",
            (),
            lambda e, n, q, b: e._stop_node(api, target(n)),
        ),
        route(
            "POST",
            f"{node}:start",
            f"{key}nodes.start",
            (),
            lambda e, n, q, b: e._start_node(api, target(n)),
        ),
        route(
            "POST",
            f"{node}:reimage",
            f"{key}nodes.reimage",
            (),
            lambda e, n, q, b: e.reimage_node(target(n), b, api),
        ),
    ]


def _operations(api: str, key: str) -> list[Route]:
    op = f"{LOC}/operations/[^/:]+"
    return [
        route(
            "GET",
            f"{LOC}/operations",
            f"{key}operations.list",
            ("filter", "returnPartialSuccess", *LIST),
            lambda e, n, q, b: e.list_operations(
                parent_of(n, "operations"),
                to_int(q, "pageSize"),
                q.get("pageToken"),
                to_bool(q, "returnPartialSuccess"),
                api,
                q.get("filter", ""),
            ),
        ),
        route("GET", op, f"{key}operations.get", (), lambda e, n, q, b: e.get_operation(n, api)),
        route(
            "DELETE", op, f"{key}operations.delete", (), lambda e, n, q, b: e.delete_operation(n)
        ),
        route(
            "POST",
            f"{op}:cancel",
            f"{key}operations.cancel",
            (),
            lambda e, n, q, b: e.cancel_operation(target(n)),
        ),
    ]


def _locations(api: str, key: str) -> list[Route]:
    routes = [
        route(
            "GET",
            r"projects/[^/]+/locations",
            f"{key}locations.list",
            ("filter", "extraLocationTypes", *LIST),
            lambda e, n, q, b: e.list_locations(
                n.rsplit("/locations", 1)[0],
                to_int(q, "pageSize"),
                q.get("pageToken"),
                q.get("filter", ""),
            ),
        ),
        route("GET", LOC, f"{key}locations.get", (), lambda e, n, q, b: e.get_location(n)),
    ]
    for kind in ("acceleratorTypes", "tensorflowVersions"):
        routes += [
            route(
                "GET",
                f"{LOC}/{kind}",
                f"{key}{kind}.list",
                ("filter", "orderBy", *LIST),
                lambda e, n, q, b, k=kind: e.list_offers(
                    api,
                    k,
                    parent_of(n, k),
                    to_int(q, "pageSize"),
                    q.get("pageToken"),
                    q.get("filter", ""),
                    q.get("orderBy", ""),
                ),
            ),
            route(
                "GET",
                f"{LOC}/{kind}/[^/]+",
                f"{key}{kind}.get",
                (),
                lambda e, n, q, b, k=kind: e.get_offer(api, k, n),
            ),
        ]
    return routes


def build(api: str, key: str, request_ids: bool) -> list[Route]:
    """The routes of `api` ("v1alpha1" or "v1"), stats keys prefixed with `key`."""
    return _locations(api, key) + _nodes(api, key, request_ids) + _operations(api, key)


ROUTES = build("v1alpha1", "", request_ids=True)
