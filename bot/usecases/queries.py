"""Read-only use cases: list, get, ops, types, versions, audit."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import scope
from bot.core.messages import Tone
from bot.core.models import UNHEALTHY, UNRECOVERABLE, Node, NodeState
from bot.usecases.context import Deps


def _matches(node: Node, query: cmd.ListNodes) -> bool:
    return (
        (query.zone is None or node.zone == query.zone)
        and (query.state is None or node.state is query.state)
        and (query.health is None or node.health is query.health)
        and all(node.labels.get(k) == v for k, v in query.labels)
    )


def _trouble_first(node: Node) -> tuple[int, str]:
    if node.state in UNRECOVERABLE or node.health in UNHEALTHY:
        rank = 0
    elif node.state not in (NodeState.READY, NodeState.STOPPED):
        rank = 1
    else:
        rank = 2
    return rank, node.name


def _summary(nodes: Iterable[Node]) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for node in nodes:
        counts[node.state.value] += 1
        if node.health in UNHEALTHY:
            counts["unhealthy"] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def list_nodes(deps: Deps, query: cmd.ListNodes, now: datetime) -> m.Message:
    scopes = [s for s in deps.scopes if query.project in (None, s.project)]
    if query.project is not None and not scopes:
        managed = ", ".join(p.id for p in deps.config.projects)
        return m.Notice(
            f"`{query.project}` is not a project this bot manages ({managed}).", Tone.ERROR
        )
    found: list[Node] = []
    unreachable: list[str] = []
    if query.zone is not None:
        scope.require(query.project, query.zone, scopes)
    for where in scopes:
        locations = where.locations
        if query.zone is not None:
            if not scope.covers(where, query.zone):
                continue
            locations = (query.zone,)
        listing = deps.tpu.list_nodes(where.project, locations)
        found.extend(n for n in listing.nodes if _matches(n, query))
        unreachable.extend(listing.unreachable)
    found.sort(key=_trouble_first)
    start = query.page * m.NODES_PER_PAGE
    if start >= len(found) and found:
        return m.Notice(
            f"There is no page {query.page + 1}: only {-(-len(found) // m.NODES_PER_PAGE)}.",
            Tone.WARNING,
        )
    return m.NodePage(
        nodes=found[start : start + m.NODES_PER_PAGE],
        total=len(found),
        page=query.page,
        page_size=m.NODES_PER_PAGE,
        query=remember_long(deps, query.to_text(), now),
        unreachable=tuple(unreachable),
        summary=tuple(_summary(found)),
    )


def get_node(deps: Deps, query: cmd.GetNode) -> m.Message:
    node = deps.tpu.resolve(query.node.text, deps.scopes)
    return m.NodeDetail(node, tuple(deps.store.operations_for(node.name, limit=5)))


def list_operations(deps: Deps, query: cmd.Ops) -> m.Message:
    if query.node is not None:
        node = deps.tpu.resolve(query.node.text, deps.scopes)
        ops = [
            o for o in deps.tpu.list_operations(node.project, node.zone) if o.target == node.name
        ]
        return m.OperationList(ops, node.name)
    ops = [
        op
        for where in deps.scopes
        for op in deps.tpu.list_operations(where.project)
        if scope.covers(where, scope.zone_of_operation(op.name) or "")
    ]
    return m.OperationList(ops)


def _catalog_project(deps: Deps, zone: str) -> str:
    """A project the bot manages in `zone`, to read what the zone offers."""
    scope.require(None, zone, deps.scopes)
    return next(s.project for s in deps.scopes if scope.covers(s, zone))


def list_types(deps: Deps, query: cmd.Types) -> m.Message:
    types = deps.tpu.list_accelerator_types(_catalog_project(deps, query.zone), query.zone)
    return m.CatalogList(query.zone, "accelerator types", tuple(t.type for t in types))


def list_versions(deps: Deps, query: cmd.Versions) -> m.Message:
    versions = deps.tpu.list_tensorflow_versions(_catalog_project(deps, query.zone), query.zone)
    return m.CatalogList(query.zone, "TensorFlow versions", tuple(v.version for v in versions))


def audit_log(deps: Deps, query: cmd.Audit) -> m.Message:
    return m.AuditList(tuple(deps.store.latest_audit(query.limit)))


REF = "ref"  # a command kept server-side: `ref KEY [more args]`
_MAX_CARRIED = 1500  # leaves room in Slack's 2,000-character button value for `page=N`


def remember_long(deps: Deps, text: str, now: datetime) -> str:
    """A command too long for a button's value is kept in the store (until the retention job
    prunes it); the button carries its key."""
    if len(text) <= _MAX_CARRIED:
        return text
    key = hashlib.sha256(text.encode()).hexdigest()[:24]
    deps.watch.put(None, f"{REF}:{key}", text, now)
    return f"{REF} {key}"


def recall_long(deps: Deps, text: str) -> str | None:
    """`ref KEY rest` -> the stored command + rest; None when the key is unknown."""
    _, _, tail = text.partition(" ")
    key, _, rest = tail.partition(" ")
    stored = deps.watch.get(f"{REF}:{key}", "")
    return f"{stored} {rest}".strip() if stored else None
