"""The capacity around TPU VM instances: slices (groups placed by a workload policy), flex-start
requests (listed beside queued resources; cancelled, or deleted and asked for again), and
reservations with their sub-blocks (whose pending maintenance can be started now). Each change is
checked against what the thing is now before anyone is asked."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from bot.core import compute_messages as cm
from bot.core import scope
from bot.core.commands import Verb
from bot.core.commands.compute import QueueCancel, Reservations, Slices
from bot.core.instances import (
    FLEX_OVER,
    CapacityListing,
    FlexRequest,
    FlexState,
    Instance,
    InstanceGroup,
    ProvisioningModel,
    SubBlock,
    joined,
)
from bot.core.names import ResourceName
from bot.core.noderef import AmbiguousNode, NodeRef, UnknownNode
from bot.core.policy import Verdict
from bot.core.records import Approval
from bot.core.text import Code, Said, say
from bot.usecases.context import Actor, Deps
from bot.usecases.ports import NotFound
from bot.usecases.registry import Outcome, handles, refused
from bot.usecases.requests import request
from bot.usecases.tpus import compute

T = TypeVar("T")


def listings(
    deps: Deps, project: str | None = None, zone: str | None = None
) -> list[CapacityListing]:
    """The capacity of every project whose TPUs come from Compute Engine (of `project`, in
    `zone`, if given)."""
    scope.require(project, zone, deps.scopes)
    found = []
    for where in deps.compute_scopes:
        if project not in (None, where.project):
            continue
        if zone is not None and not scope.covers(where, zone):
            continue
        locations = (zone,) if zone is not None else where.locations
        found.append(compute(deps).list_capacity(where.project, locations))
    return found


def _unreachable(found: Iterable[CapacityListing]) -> tuple[str, ...]:
    return tuple(f"{c.project}/{z}" for c in found for z in c.unreachable)


# ----- reading ---------------------------------------------------------------------------------


def instance_detail(deps: Deps, instance: Instance) -> cm.InstanceDetail:
    """An instance's card, with the group that manages it (read only for one that may have
    one: a slice's host, a flex-start VM, a GKE node)."""
    group = None
    if (
        instance.placement_policy
        or instance.gke is not None
        or instance.provisioning is ProvisioningModel.FLEX_START
    ):
        listing = compute(deps).list_capacity(instance.project, (instance.zone,))
        instance = joined(instance, listing.groups)
        group = next((g for g in listing.groups if g.name == instance.group), None)
    ops = tuple(deps.store.operations_for(instance.name, limit=5))
    return cm.InstanceDetail(instance, ops, group)


def _broken_first(group: InstanceGroup) -> tuple[int, str]:
    return (0 if group.down() else 1), group.name


@handles(Slices)
def slices(deps: Deps, actor: Actor, query: Slices, now: datetime) -> Outcome:
    found = listings(deps, query.project, query.zone)
    every = sorted((s for c in found for s in c.slices), key=_broken_first)
    shown = every[: cm.SLICES_PER_PAGE]
    return Outcome(cm.SliceList(shown, now, _unreachable(found), total=len(every)))


@handles(Reservations)
def reservations(deps: Deps, actor: Actor, query: Reservations, now: datetime) -> Outcome:
    found = listings(deps, query.project, query.zone)
    every = [r for c in found for r in c.reservations]
    return Outcome(cm.ReservationList(every, now, _unreachable(found)))


def flex_listing(
    deps: Deps, project: str | None = None, zone: str | None = None
) -> tuple[list[FlexRequest], list[str]]:
    """Every flex-start request (for `/tpu queue list`), with the zones that did not answer."""
    found = listings(deps, project, zone)
    return [f for c in found for f in c.flex], list(_unreachable(found))


# ----- naming one ------------------------------------------------------------------------------


def _pick(
    ref: NodeRef,
    items: Sequence[T],
    name: Callable[[T], str],
    what: str,
    partial: bool,
) -> T:
    """The one of `items` that `ref` names (by its id, zone and project)."""
    refs = [(item, ResourceName.parse(name(item))) for item in items]
    found = [
        item
        for item, n in refs
        if n.id == ref.node_id and ref.zone in (None, n.zone) and ref.project in (None, n.project)
    ]
    if len(found) == 1:
        return found[0]
    if found:
        shown = sorted(ResourceName.parse(name(i)).full for i in found)
        raise AmbiguousNode(
            say(Code(ref.node_id), f" names {len(found)} {what}s; give its full name."), shown
        )
    ids = sorted({n.id for _, n in refs})
    close = set(difflib.get_close_matches(ref.node_id, ids, n=5, cutoff=0.6))
    close |= {i for i in ids if ref.node_id in i}
    suggestions = sorted(n.full for _, n in refs if n.id in close)[:10]
    note = " Some zones did not answer, so it may be there." if partial else ""
    raise UnknownNode(say(f"No {what} ", Code(ref.node_id), f".{note}"), suggestions)


def resolve_flex(deps: Deps, ref: NodeRef, full: str = "") -> FlexRequest:
    if full:
        scope.require_name(full, deps.scopes)
        return compute(deps).get_flex_request(full)
    found = listings(deps, ref.project, ref.zone)
    every = [f for c in found for f in c.flex]
    return _pick(ref, every, lambda f: f.name, "flex-start request", bool(_unreachable(found)))


def resolve_sub_block(deps: Deps, ref: NodeRef, full: str = "") -> SubBlock:
    if full:
        scope.require_name(full, deps.scopes)
        ref = NodeRef(ResourceName.parse(full).id, *_zone_project(full))
    found = listings(deps, ref.project, ref.zone)
    every = [s for c in found for r in c.reservations for s in r.sub_blocks]
    subs = [s for s in every if not full or s.name == full]
    return _pick(ref, subs, lambda s: s.name, "reservation sub-block", bool(_unreachable(found)))


def _zone_project(name: str) -> tuple[str, str]:
    parsed = ResourceName.parse(name)
    return parsed.zone, parsed.project


# ----- what changes them -----------------------------------------------------------------------


def flex_precheck(action: str, flex: FlexRequest) -> Verdict:
    if action == Verb.QUEUE_CANCEL and flex.state is not FlexState.ACCEPTED:
        return Verdict(
            False, f"The request is {flex.state.value}; only one still waiting can be cancelled."
        )
    if action == Verb.REQUEUE and flex.state not in (FlexState.FAILED, FlexState.CANCELLED):
        return Verdict(
            False,
            f"The request is {flex.state.value}; only a FAILED or CANCELLED one is deleted and "
            "asked for again (cancel a waiting one first).",
        )
    if action == Verb.REQUEUE and flex.state not in FLEX_OVER:
        return Verdict(False, f"The request is {flex.state.value} and cannot be deleted yet.")
    return Verdict(True, f"{flex.state.value} allows {action}")


def _flex_seen(flex: FlexRequest) -> tuple[str, datetime | None]:
    return flex.state.value, flex.create_time


@handles(QueueCancel)
def cancel(deps: Deps, actor: Actor, command: QueueCancel, now: datetime) -> Outcome:
    flex = resolve_flex(deps, command.name, command.full)
    verdict = flex_precheck(Verb.QUEUE_CANCEL, flex)
    if not verdict:
        return refused(verdict.reason, flex.name, Verb.QUEUE_CANCEL)
    seen = _flex_seen(flex)
    return request(deps, actor, Verb.QUEUE_CANCEL, flex.name, None, {}, "", now, seen=seen)


def requeue_flex(deps: Deps, actor: Actor, flex: FlexRequest, now: datetime) -> Outcome:
    """Delete a FAILED or CANCELLED flex-start request and ask for the same hosts again."""
    verdict = flex_precheck(Verb.REQUEUE, flex)
    if not verdict:
        return refused(verdict.reason, flex.name, Verb.REQUEUE)
    params = {"request": flex.as_body()}
    reason = f"requeue after {flex.state.value.lower()}"
    seen = _flex_seen(flex)
    return request(deps, actor, Verb.REQUEUE, flex.name, None, params, reason, now, seen=seen)


def sub_block_maintenance(
    deps: Deps, actor: Actor, ref: NodeRef, full: str, now: datetime
) -> Outcome:
    """Start a reservation sub-block's pending maintenance now (through approval)."""
    try:
        sub = resolve_sub_block(deps, ref, full)
    except UnknownNode as exc:
        problem: Said = say(
            "No TPU VM or reservation sub-block ", Code(ref.node_id), " is known here."
        )
        raise UnknownNode(problem, exc.candidates) from None
    if sub.maintenance is None:
        why = say("No maintenance is pending on ", Code(sub.ref.id), ": there is nothing to start.")
        return refused(why, sub.name, Verb.MAINTENANCE)
    seen = (sub.maintenance.status or "PENDING", sub.create_time)
    return request(deps, actor, Verb.MAINTENANCE, sub.name, None, {}, "", now, seen=seen)


def flex_recheck(deps: Deps, approval: Approval) -> Verdict:
    try:
        current = compute(deps).get_flex_request(approval.target)
    except NotFound:
        return Verdict(False, "The flex-start request no longer exists.")
    if approval.node_state and current.state.value != approval.node_state:
        return Verdict(
            False,
            f"The request was {approval.node_state} when asked and is {current.state.value} now.",
        )
    return flex_precheck(approval.action, current)


def sub_block_recheck(deps: Deps, approval: Approval) -> Verdict:
    try:
        sub = resolve_sub_block(deps, NodeRef(""), approval.target)
    except UnknownNode:
        return Verdict(False, "The reservation sub-block is no longer listed.")
    if sub.maintenance is None:
        return Verdict(False, "Its maintenance is no longer pending.")
    return Verdict(True, "its maintenance is still pending")
