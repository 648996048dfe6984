"""Lists and aggregated lists: `maxResults` (default and limit 500), `pageToken`, `filter`,
`orderBy`, and the aggregated shape (`items` keyed by scope, NO_RESULTS_ON_PAGE warnings,
`unreachables`). Keys are `zones/Z/name` (or `regions/R/name`), sorted: a page scans on from
the token's key, so paging a filtered list costs one pass, not one pass per page."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tpu_emulator.compute.errors import ComputeError
from tpu_emulator.compute.filters import Predicate, compile_filter, order_key
from tpu_emulator.compute.wire import link
from tpu_emulator.paging import decode_token, encode_token

Json = dict[str, Any]
MAX_RESULTS = 500


@dataclass(frozen=True)
class Query:
    """The list parameters of one request; `scope` binds page tokens to the request."""

    scope: str
    filter: Predicate | None
    order: Callable[[Json], Any] | None
    limit: int
    token: str | None


def query(params: dict[str, str], scope: str, schema: str) -> Query:
    raw = params.get("maxResults")
    limit = MAX_RESULTS
    if raw is not None:
        limit = int(raw)
        if limit > MAX_RESULTS:
            raise ComputeError(
                400,
                "invalid",
                f"Invalid value for field 'maxResults': '{raw}'. Must be less than or equal "
                f"to {MAX_RESULTS}",
            )
        limit = limit or MAX_RESULTS
    expression = params.get("filter")
    order_by = params.get("orderBy")
    return Query(
        scope=f"{scope}|{expression or ''}|{order_by or ''}",
        filter=compile_filter(expression, schema),
        order=order_key(order_by),
        limit=limit,
        token=params.get("pageToken") or None,
    )


def page(keys: Sequence[str], render: Callable[[str], Json], q: Query) -> tuple[list[Json], str]:
    """One page of rendered resources (keys sorted) and the next token ("" at the end)."""
    if q.order is not None:
        return _ordered_page(keys, render, q)
    start = 0
    if q.token:
        start = bisect.bisect_right(keys, decode_token(q.token, q.scope))
    found: list[tuple[str, Json]] = []
    more = False
    for i in range(start, len(keys)):
        body = render(keys[i])
        if q.filter is None or q.filter(body):
            if len(found) == q.limit:
                more = True
                break
            found.append((keys[i], body))
    token = encode_token({"p": q.scope, "a": found[-1][0]}) if more else ""
    return [body for _, body in found], token


def _ordered_page(
    keys: Sequence[str], render: Callable[[str], Json], q: Query
) -> tuple[list[Json], str]:
    assert q.order is not None
    offset = int(decode_token(q.token, q.scope)) if q.token else 0
    rows = [render(key) for key in keys]
    rows = [r for r in rows if q.filter is None or q.filter(r)]
    rows.sort(key=q.order, reverse=True)
    chunk = rows[offset : offset + q.limit]
    more = offset + q.limit < len(rows)
    return chunk, encode_token({"p": q.scope, "a": str(offset + q.limit)}) if more else ""


def list_body(kind: str, path: str, items: list[Json], token: str) -> Json:
    body: Json = {"kind": kind, "id": path, "selfLink": link(path)}
    if items:
        body["items"] = items
    if token:
        body["nextPageToken"] = token
    return body


def aggregated_body(
    kind: str,
    path: str,
    field: str,
    items: list[Json],
    token: str,
    scopes: list[str],
    unreachables: list[str],
) -> Json:
    """`scopes` are every scope of the type (zones/Z...); those without results on this page
    carry Compute's NO_RESULTS_ON_PAGE warning."""
    grouped: dict[str, list[Json]] = {}
    for item in items:
        grouped.setdefault(_scope_of(item), []).append(item)
    body: Json = {"kind": kind, "id": path, "selfLink": link(path), "items": {}}
    for scope in scopes:
        if scope in grouped:
            body["items"][scope] = {field: grouped[scope]}
        elif scope not in unreachables:
            body["items"][scope] = {"warning": no_results(scope)}
    if token:
        body["nextPageToken"] = token
    if unreachables:
        body["unreachables"] = unreachables
    return body


def no_results(scope: str) -> Json:
    return {
        "code": "NO_RESULTS_ON_PAGE",
        "message": f"There are no results for scope '{scope}' on this page.",
        "data": [{"key": "scope", "value": scope}],
    }


def _scope_of(item: Json) -> str:
    where = item.get("zone") or item.get("region") or ""
    kind = "zones" if item.get("zone") else "regions"
    return f"{kind}/{where.rsplit('/', 1)[-1]}"
