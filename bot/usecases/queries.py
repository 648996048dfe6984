"""Read-only use cases: help, whoami, list, get, ops, types, versions, audit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy, scope
from bot.core.commands.meta import WhoAmI
from bot.core.models import UNHEALTHY, UNRECOVERABLE, Node, NodeState
from bot.core.names import zone_of
from bot.usecases import usage
from bot.usecases.context import Actor, Deps
from bot.usecases.registry import Outcome, handles


@handles(cmd.Help)
def help_text(deps: Deps, actor: Actor, command: cmd.Help, now: datetime) -> Outcome:
    return Outcome(m.HelpText(command.topic))


@handles(WhoAmI)
def whoami(deps: Deps, actor: Actor, command: WhoAmI, now: datetime) -> Outcome:
    """Your roles and why (the config entry that grants each), and where you may act."""
    groups = deps.directory.groups_of(actor.user)
    granted = policy.granted(actor.user, groups, deps.config.roles)
    scopes = tuple((s.project, tuple(s.locations)) for s in deps.scopes)
    identity = m.Identity(
        actor.user, actor.role.label, tuple((r.label, why) for r, why in granted), scopes
    )
    return Outcome(identity)


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


@handles(cmd.ListNodes)
def list_nodes(deps: Deps, actor: Actor, query: cmd.ListNodes, now: datetime) -> Outcome:
    scopes = [s for s in deps.scopes if query.project in (None, s.project)]
    scope.require(query.project, query.zone, deps.scopes)
    found: list[Node] = []
    unreachable: list[str] = []
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
    missing = m.no_such_page(len(found), query.page, m.NODES_PER_PAGE)
    if missing is not None:
        return Outcome(missing, "no such page")
    start = query.page * m.NODES_PER_PAGE
    page = m.NodePage(
        nodes=found[start : start + m.NODES_PER_PAGE],
        total=len(found),
        page=query.page,
        page_size=m.NODES_PER_PAGE,
        query=deps.carrier.carry(query.to_text(), now),
        unreachable=tuple(unreachable),
        summary=tuple(_summary(found)),
    )
    return Outcome(page)


@handles(cmd.GetNode)
def get_node(deps: Deps, actor: Actor, query: cmd.GetNode, now: datetime) -> Outcome:
    node = deps.tpu.resolve(query.node.text, deps.scopes)
    operations = tuple(deps.store.operations_for(node.name, limit=5))
    return Outcome(m.NodeDetail(node, operations, usage.detail(deps, node, now)))


@handles(cmd.Ops)
def list_operations(deps: Deps, actor: Actor, query: cmd.Ops, now: datetime) -> Outcome:
    if query.node is not None:
        node = deps.tpu.resolve(query.node.text, deps.scopes)
        ops = [
            o for o in deps.tpu.list_operations(node.project, node.zone) if o.target == node.name
        ]
        return Outcome(m.OperationList(ops, node.name))
    ops = [
        op
        for where in deps.scopes
        for op in deps.tpu.list_operations(where.project)
        if scope.covers(where, zone_of(op.name))
    ]
    return Outcome(m.OperationList(ops))


def _catalog_project(deps: Deps, zone: str) -> str:
    """A project the bot manages in `zone`, to read what the zone offers."""
    scope.require(None, zone, deps.scopes)
    return next(s.project for s in deps.scopes if scope.covers(s, zone))


@handles(cmd.Types)
def list_types(deps: Deps, actor: Actor, query: cmd.Types, now: datetime) -> Outcome:
    types = deps.tpu.list_accelerator_types(_catalog_project(deps, query.zone), query.zone)
    return Outcome(m.CatalogList(query.zone, "accelerator types", tuple(t.type for t in types)))


@handles(cmd.Versions)
def list_versions(deps: Deps, actor: Actor, query: cmd.Versions, now: datetime) -> Outcome:
    versions = deps.tpu.list_tensorflow_versions(_catalog_project(deps, query.zone), query.zone)
    found = tuple(v.version for v in versions)
    return Outcome(m.CatalogList(query.zone, "TensorFlow versions", found))


@handles(cmd.Audit)
def audit_log(deps: Deps, actor: Actor, query: cmd.Audit, now: datetime) -> Outcome:
    return Outcome(m.AuditList(tuple(deps.store.latest_audit(query.limit))))
