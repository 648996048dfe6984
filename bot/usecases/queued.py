"""Queued resources (requests for capacity): list, get, and what changes them (create, delete,
reset, Delete & requeue), each checked against the API's own lists and the request's state
before anyone is asked."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy, scope
from bot.core.commands import Verb, usage_of
from bot.core.instances import FlexRequest, FlexState
from bot.core.messages import Tone
from bot.core.models import UNRECOVERABLE, Node, ProjectScope
from bot.core.names import Kind, ResourceName
from bot.core.noderef import AmbiguousNode, NodeRef, UnknownNode, parse_ref
from bot.core.queued import (
    STUCK,
    WAITING,
    QueuedNodeSpec,
    QueuedResource,
    QueuedResourceRequest,
)
from bot.core.records import Approval
from bot.core.text import Code, Said, say
from bot.usecases import capacity
from bot.usecases.catalog import not_offered
from bot.usecases.context import Actor, Deps
from bot.usecases.nodes import is_v2
from bot.usecases.ports import NotFound
from bot.usecases.registry import Outcome, handles, refused
from bot.usecases.requests import queued_name, request


def v2_scopes(deps: Deps, project: str | None = None) -> list[ProjectScope]:
    return [s for s in deps.tpu_scopes if is_v2(deps, s.project) and project in (None, s.project)]


# ----- reading ---------------------------------------------------------------------------------


def _trouble_first(queued: QueuedResource | FlexRequest) -> tuple[int, str]:
    if isinstance(queued, FlexRequest):
        rank = {FlexState.FAILED: 0, FlexState.ACCEPTED: 1}.get(queued.state, 2)
    elif queued.state in STUCK:
        rank = 0
    elif queued.state in WAITING:
        rank = 1
    else:
        rank = 2
    return rank, queued.name


def _listing(
    deps: Deps, scopes: Iterable[ProjectScope], zone: str | None = None
) -> tuple[list[QueuedResource], list[str]]:
    scopes = list(scopes)
    if zone is not None:
        scope.require(None, zone, scopes)
    found: list[QueuedResource] = []
    unreachable: list[str] = []
    for where in scopes:
        locations = where.locations
        if zone is not None:
            if not scope.covers(where, zone):
                continue
            locations = (zone,)
        listing = deps.tpu.list_queued_resources(where.project, locations)
        found.extend(q for q in listing.queued_resources if "-" in locations or q.zone in locations)
        unreachable.extend(listing.unreachable)
    return found, unreachable


@handles(cmd.QueueList)
def list_queued(deps: Deps, actor: Actor, query: cmd.QueueList, now: datetime) -> Outcome:
    """Requests for capacity: queued resources and flex-start requests together."""
    scopes = v2_scopes(deps, query.project)
    flex_scopes = [s for s in deps.compute_scopes if query.project in (None, s.project)]
    if not scopes and not flex_scopes:
        managed = ", ".join(p.id for p in deps.config.projects if p.api == "v2") or "none"
        why = (
            "Queued resources need a project on the TPU API v2, flex-start requests one whose "
            f"sources have compute (this bot's v2 projects: {managed})."
        )
        return Outcome(m.Notice(why, Tone.WARNING), "not v2", detail=why)
    found: list[QueuedResource | FlexRequest] = []
    unreachable: list[str] = []
    if scopes:
        listed, unreachable = _listing(deps, scopes, query.zone)
        found.extend(q for q in listed if query.state is None or q.state is query.state)
    if flex_scopes:
        flex, cut_off = capacity.flex_listing(deps, query.project, query.zone)
        wanted = query.state.value if query.state else None
        found.extend(f for f in flex if wanted in (None, f.state.value))
        unreachable.extend(cut_off)
    found.sort(key=_trouble_first)
    counts = Counter(q.state.value for q in found)
    size = m.QUEUED_PER_PAGE
    missing = m.no_such_page(len(found), query.page, size)
    if missing is not None:
        return Outcome(missing, "no such page")
    start = query.page * size
    return Outcome(
        m.QueuedPage(
            queued=found[start : start + size],
            total=len(found),
            page=query.page,
            page_size=size,
            query=deps.carrier.carry(query.to_text(), now),
            now=now,
            unreachable=tuple(unreachable),
            summary=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        )
    )


def resolve_queued(deps: Deps, ref: NodeRef) -> QueuedResource:
    """The one queued resource `ref` names; errors list candidates, like node references."""
    scope.require(ref.project, ref.zone, deps.scopes)  # before any call
    if ref.project and ref.zone and is_v2(deps, ref.project):
        try:
            return deps.tpu.get_queued_resource(queued_name(ref.project, ref.zone, ref.node_id))
        except NotFound:
            pass
    listing, unreachable = _listing(deps, v2_scopes(deps, ref.project))
    found = [
        q
        for q in listing
        if q.id == ref.node_id and ref.zone in (None, q.zone) and ref.project in (None, q.project)
    ]
    if len(found) == 1:
        scope.require(found[0].project, found[0].zone, deps.scopes)
        return found[0]
    if found:
        raise AmbiguousNode(
            say(
                Code(ref.node_id),
                f" names {len(found)} queued resources; say which one with ",
                "zone/id or project/zone/id.",
            ),
            sorted(ResourceName.parse(q.name).display for q in found),
        )
    ids = sorted({q.id for q in listing})
    close = set(difflib.get_close_matches(ref.node_id, ids, n=5, cutoff=0.6))
    close |= {i for i in ids if ref.node_id in i}
    suggestions = sorted(ResourceName.parse(q.name).display for q in listing if q.id in close)
    note = " Some zones did not answer, so it may be there." if unreachable else ""
    hint = " Did you mean one of these?" if suggestions else ""
    problem = say("No queued resource ", Code(ref.node_id), f".{note}{hint}")
    raise UnknownNode(problem, suggestions[:10])


def nodes_of(deps: Deps, queued: QueuedResource) -> list[Node]:
    """The nodes a queued resource made that exist now."""
    found: list[Node] = []
    for name in queued.node_names:
        try:
            found.append(deps.tpu.get_node(name))
        except NotFound:
            continue
    return found


@handles(cmd.QueueGet)
def get_queued(deps: Deps, actor: Actor, query: cmd.QueueGet, now: datetime) -> Outcome:
    queued = resolve_queued(deps, query.name)
    return Outcome(m.QueuedDetail(queued, now, tuple(nodes_of(deps, queued))))


# ----- what changes them -----------------------------------------------------------------------


def _project(deps: Deps, project: str | None) -> str | Outcome:
    v2 = [p.id for p in deps.config.projects if p.api == "v2"]
    if project is None:
        if len(v2) != 1:
            which = ", ".join(v2) or "none on the TPU API v2"
            problem = f"Which project? Queued resources live in: {which}."
            answer = m.Usage(problem, usage_of("queue create"), "Add project=P.")
            return Outcome(answer, "usage error", detail=problem, action=Verb.QUEUE_CREATE)
        return v2[0]
    if project not in {p.id for p in deps.config.projects}:
        return refused(say(Code(project), " is not a project this bot manages."))
    if project not in v2:
        why = say(
            Code(project),
            " is configured with the TPU API v1alpha1, which has no queued resources.",
        )
        return refused(why, action=Verb.QUEUE_CREATE)
    return project


@handles(cmd.QueueCreate)
def create(deps: Deps, actor: Actor, command: cmd.QueueCreate, now: datetime) -> Outcome:
    project = _project(deps, command.project)
    if isinstance(project, Outcome):
        return project
    target = queued_name(project, command.zone, command.queued_id)
    problem = _impossible(deps, project, command, now)
    if problem is not None:
        return refused(problem, target, Verb.QUEUE_CREATE)
    spec = QueuedNodeSpec(
        parent=ResourceName.of(project, command.zone, Kind.QUEUED_RESOURCE, "").parent,
        node_id="" if command.nodes else command.queued_id,
        accelerator_type=command.accelerator_type,
        software_version=command.runtime,
        multislice_count=command.nodes,
        multislice_prefix=command.queued_id if command.nodes else "",
    )
    wanted = QueuedResourceRequest(
        node_specs=(spec,), spot=command.spot, valid_until_seconds=command.valid_for_seconds
    )
    params = {"request": wanted.as_dict()}
    return request(deps, actor, Verb.QUEUE_CREATE, target, None, params, "", now)


def _impossible(deps: Deps, project: str, command: cmd.QueueCreate, now: datetime) -> Said | None:
    """Why the API would refuse this request, from its own lists; None when it looks possible."""
    zone = command.zone
    out_of_scope = scope.problem(project, zone, deps.scopes)
    if out_of_scope is not None:
        return out_of_scope
    offered = not_offered(
        deps.catalog, deps.tpu, project, zone, command.accelerator_type, command.runtime, now,
        version_word="Runtime ",
    )  # fmt: skip
    if offered is not None:
        return offered
    try:
        deps.tpu.get_queued_resource(queued_name(project, zone, command.queued_id))
    except NotFound:
        return None
    return say(
        "A queued resource ", Code(f"{project}/{zone}/{command.queued_id}"), " already exists."
    )


@handles(cmd.QueueDelete)
def delete(deps: Deps, actor: Actor, command: cmd.QueueDelete, now: datetime) -> Outcome:
    queued = resolve_queued(deps, command.name)
    nodes = nodes_of(deps, queued)
    verdict = policy.precheck_queued(Verb.QUEUE_DELETE, queued, command.force, len(nodes))
    if not verdict:
        return refused(verdict.reason, queued.name, Verb.QUEUE_DELETE)
    params = {"force": command.force}
    return request(
        deps, actor, Verb.QUEUE_DELETE, queued.name, None, params, "", now, queued=queued
    )


@handles(cmd.QueueReset)
def reset(deps: Deps, actor: Actor, command: cmd.QueueReset, now: datetime) -> Outcome:
    queued = resolve_queued(deps, command.name)
    verdict = policy.precheck_queued(Verb.QUEUE_RESET, queued)
    if not verdict:
        return refused(verdict.reason, queued.name, Verb.QUEUE_RESET)
    return request(deps, actor, Verb.QUEUE_RESET, queued.name, None, {}, "", now, queued=queued)


@handles(cmd.Requeue)
def requeue(deps: Deps, actor: Actor, command: cmd.Requeue, now: datetime) -> Outcome:
    """Delete a FAILED/SUSPENDED queued resource (force) or a preempted spot VM, then queue the
    same request again once the delete is done (`operations.track`)."""
    if command.flex:
        flex = capacity.resolve_flex(deps, command.name, command.flex)
        return capacity.requeue_flex(deps, actor, flex, now)
    if not command.node:
        try:
            queued = resolve_queued(deps, command.name)
        except UnknownNode:
            queued = None
        if queued is not None:
            return _requeue(deps, actor, queued, now)
        if deps.compute_scopes:
            try:
                flex = capacity.resolve_flex(deps, command.name)
            except UnknownNode:
                pass
            else:
                return capacity.requeue_flex(deps, actor, flex, now)
    node = deps.tpu.resolve(command.name.text, deps.tpu_scopes)
    if node.queued_resource:
        ref = parse_ref(ResourceName.parse(node.queued_resource).display)
        return requeue(deps, actor, cmd.Requeue(ref), now)
    if not is_v2(deps, node.project):
        why: Said = "Requeue makes a queued resource, which needs the TPU API v2; use recreate."
        return refused(why, node.name, Verb.REQUEUE)
    if node.state not in UNRECOVERABLE or not (node.spot or node.preemptible):
        why = say(
            Code(node.node_id), f" is {node.state.value}; only a preempted spot VM is requeued."
        )
        return refused(why, node.name, Verb.REQUEUE)
    params = {"request": for_node(node).as_dict()}
    reason = f"requeue after {node.state.value.lower()}"
    return request(deps, actor, Verb.REQUEUE, node.name, node, params, reason, now)


def _requeue(deps: Deps, actor: Actor, queued: QueuedResource, now: datetime) -> Outcome:
    verdict = policy.precheck_queued(Verb.REQUEUE, queued, force=True)
    if not verdict:
        return refused(verdict.reason, queued.name, Verb.REQUEUE)
    params = {"request": same_again(queued).as_dict()}
    reason = f"requeue after {queued.state.value.lower()}"
    return request(deps, actor, Verb.REQUEUE, queued.name, None, params, reason, now, queued=queued)


# ----- the request a requeue asks for again ----------------------------------------------------


def same_again(queued: QueuedResource) -> QueuedResourceRequest:
    """What a queued resource asked for, to ask for again (its validity window starts anew)."""
    return QueuedResourceRequest(
        node_specs=tuple(queued.node_specs),
        spot=queued.spot,
        guaranteed=queued.guaranteed,
        reservation=queued.reservation,
    )


def for_node(node: Node) -> QueuedResourceRequest:
    """A preempted spot VM on its own, as a queued request for the same VM."""
    spec = QueuedNodeSpec(
        parent=ResourceName.parse(node.name).parent,
        node_id=node.node_id,
        accelerator_type=node.accelerator_type,
        software_version=node.software_version,
        labels=dict(node.labels),
        description=node.description,
    )
    return QueuedResourceRequest(node_specs=(spec,), spot=True)


def requeue_target(target: str) -> str:
    """The queued resource a requeue creates again (a spot VM's: one with the VM's id)."""
    return ResourceName.parse(target).sibling(Kind.QUEUED_RESOURCE).full


def recheck(deps: Deps, approval: Approval) -> policy.Verdict:
    """Before an approved queued-resource action runs: is the request still as it was?"""
    try:
        current: QueuedResource | None = deps.tpu.get_queued_resource(approval.target)
    except NotFound:
        current = None
    nodes = len(nodes_of(deps, current)) if current is not None else 0
    force = bool(approval.params.get("force")) or approval.action == Verb.REQUEUE
    return policy.recheck_queued(approval.action, approval.node_state, current, force, nodes)


def summary_of(specs: Sequence[QueuedNodeSpec]) -> str:
    """`v5p-128 on runtime R` (x N slices) for messages."""
    if not specs:
        return "?"
    spec = specs[0]
    shape = spec.accelerator_type or (
        f"{spec.accelerator_config.type} {spec.accelerator_config.topology}"
        if spec.accelerator_config
        else "?"
    )
    slices = f" x {spec.multislice_count} slices" if spec.multislice_count else ""
    return f"{shape}{slices}, runtime {spec.software_version or '?'}"
