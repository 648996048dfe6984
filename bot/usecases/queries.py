"""Read-only use cases: help, whoami, list, get, ops, types, versions, audit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy, scope
from bot.core.commands.meta import WhoAmI
from bot.core.instances import Instance
from bot.core.names import zone_of
from bot.usecases import capacity, tpus, usage
from bot.usecases.context import Actor, Deps
from bot.usecases.registry import Outcome, handles
from bot.usecases.tpus import Tpu


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


def _matches(tpu: Tpu, query: cmd.ListNodes) -> bool:
    if isinstance(tpu, Instance):
        # An instance has a status, not a node's state or health: state= matches by name.
        return (
            query.health is None
            and (query.state is None or tpu.status.value == query.state.value)
            and all(tpu.labels.get(k) == v for k, v in query.labels)
        )
    return (
        (query.state is None or tpu.state is query.state)
        and (query.health is None or tpu.health is query.health)
        and all(tpu.labels.get(k) == v for k, v in query.labels)
    )


@handles(cmd.ListNodes)
def list_nodes(deps: Deps, actor: Actor, query: cmd.ListNodes, now: datetime) -> Outcome:
    """Every kind of TPU in one listing (nodes and TPU VM instances), trouble first."""
    scope.require(query.project, query.zone, deps.scopes)
    listed, unreachable = tpus.list_all(deps, query.project, query.zone)
    found = [t for t in listed if _matches(t, query)]
    found.sort(key=tpus.trouble_first)
    missing = m.no_such_page(len(found), query.page, m.NODES_PER_PAGE)
    if missing is not None:
        return Outcome(missing, "no such page")
    start = query.page * m.NODES_PER_PAGE
    shown = found[start : start + m.NODES_PER_PAGE]
    page = m.NodePage(
        nodes=shown,
        total=len(found),
        page=query.page,
        page_size=m.NODES_PER_PAGE,
        query=deps.carrier.carry(query.to_text(), now),
        unreachable=tuple(unreachable),
        summary=tuple(tpus.summary(found)),
        usage=usage.card_lines(deps, shown, now),
    )
    return Outcome(page)


@handles(cmd.GetNode)
def get_node(deps: Deps, actor: Actor, query: cmd.GetNode, now: datetime) -> Outcome:
    found = tpus.resolve_tpu(deps, query.node.text)
    if isinstance(found, Instance):
        shown = capacity.instance_detail(deps, found)
        return Outcome(replace(shown, usage=usage.detail(deps, found, now)))
    node = found
    operations = tuple(deps.store.operations_for(node.name, limit=5))
    return Outcome(m.NodeDetail(node, operations, usage.detail(deps, node, now)))


@handles(cmd.Ops)
def list_operations(deps: Deps, actor: Actor, query: cmd.Ops, now: datetime) -> Outcome:
    if query.node is not None:
        found = tpus.resolve_tpu(deps, query.node.text)
        if isinstance(found, Instance):  # a TPU VM's: its zone's operations on it
            listed = tpus.compute(deps).list_operations(found.project, found.zone, found.name)
            return Outcome(m.OperationList(listed, found.name))
        node = found
        ops = [
            o for o in deps.tpu.list_operations(node.project, node.zone) if o.target == node.name
        ]
        return Outcome(m.OperationList(ops, node.name))
    ops = [
        op
        for where in deps.tpu_scopes
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
