"""Queued resources: list, get, and the requests that change them (create, delete, reset, requeue),
checked against the API's own lists and the request's state before anyone is asked."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy, scope
from bot.core.messages import Tone
from bot.core.models import AcceleratorConfig, Node, ProjectScope
from bot.core.noderef import AmbiguousNode, NodeRef, UnknownNode
from bot.core.operations import Operation
from bot.core.queued import STUCK, WAITING, QueuedNodeSpec, QueuedResource, QueuedResourceRequest
from bot.core.records import Approval
from bot.usecases.context import Deps
from bot.usecases.ports import NotFound
from bot.usecases.queries import remember_long


def is_v2(deps: Deps, project: str) -> bool:
    return any(p.id == project and p.api == "v2" for p in deps.config.projects)


def v2_scopes(deps: Deps, project: str | None = None) -> list[ProjectScope]:
    return [s for s in deps.scopes if is_v2(deps, s.project) and project in (None, s.project)]


def queued_name(project: str, zone: str, queued_id: str) -> str:
    return f"projects/{project}/locations/{zone}/queuedResources/{queued_id}"


def short(name: str) -> str:
    """`project/zone/id` of a queued resource or node name."""
    parts = name.split("/")
    return "/".join(parts[i] for i in (1, 3, 5)) if len(parts) == 6 else name


# ----- reading ---------------------------------------------------------------------------------


def _trouble_first(queued: QueuedResource) -> tuple[int, str]:
    if queued.state in STUCK:
        rank = 0
    elif queued.state in WAITING:
        rank = 1
    else:
        rank = 2
    return rank, queued.name


def _listing(
    deps: Deps, scopes: Iterable[ProjectScope], zone: str | None = None
) -> tuple[list[QueuedResource], list[str]]:
    found: list[QueuedResource] = []
    unreachable: list[str] = []
    if zone is not None:
        scope.require(None, zone, list(scopes))
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


def list_queued(deps: Deps, query: cmd.QueueList, now: datetime) -> m.Message:
    scopes = v2_scopes(deps, query.project)
    if not scopes:
        managed = ", ".join(p.id for p in deps.config.projects if p.api == "v2") or "none"
        return m.Notice(
            f"Queued resources need a project on the TPU API v2 (this bot's: {managed}).",
            Tone.WARNING,
        )
    found, unreachable = _listing(deps, scopes, query.zone)
    found = [q for q in found if query.state is None or q.state is query.state]
    found.sort(key=_trouble_first)
    size = m.QUEUED_PER_PAGE
    start = query.page * size
    if start >= len(found) and found:
        pages = -(-len(found) // size)
        return m.Notice(f"There is no page {query.page + 1}: only {pages}.", Tone.WARNING)
    counts = Counter(q.state.value for q in found)
    return m.QueuedPage(
        queued=found[start : start + size],
        total=len(found),
        page=query.page,
        page_size=size,
        query=remember_long(deps, query.to_text(), now),
        now=now,
        unreachable=tuple(unreachable),
        summary=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
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
            f"`{ref.node_id}` names {len(found)} queued resources; say which one with zone/id "
            "or project/zone/id.",
            sorted(short(q.name) for q in found),
        )
    ids = sorted({q.id for q in listing})
    close = set(difflib.get_close_matches(ref.node_id, ids, n=5, cutoff=0.6))
    close |= {i for i in ids if ref.node_id in i}
    suggestions = sorted(short(q.name) for q in listing if q.id in close)[:10]
    note = " Some zones did not answer, so it may be there." if unreachable else ""
    hint = " Did you mean one of these?" if suggestions else ""
    raise UnknownNode(f"No queued resource `{ref.node_id}`.{note}{hint}", suggestions)


def nodes_of(deps: Deps, queued: QueuedResource) -> list[Node]:
    """The nodes a queued resource made that exist now."""
    found: list[Node] = []
    for name in queued.node_names:
        try:
            found.append(deps.tpu.get_node(name))
        except NotFound:
            continue
    return found


def get_queued(deps: Deps, query: cmd.QueueGet, now: datetime) -> m.Message:
    queued = resolve_queued(deps, query.name)
    return m.QueuedDetail(queued, now, tuple(nodes_of(deps, queued)))


# ----- the spec a request is filed, approved and created again with ----------------------------


def request_dict(request: QueuedResourceRequest) -> dict[str, Any]:
    """A create request as approvals store it (JSON)."""
    specs = []
    for spec in request.node_specs:
        body: dict[str, Any] = {
            "parent": spec.parent,
            "nodeId": spec.node_id,
            "acceleratorType": spec.accelerator_type,
            "runtimeVersion": spec.software_version,
            "labels": dict(spec.labels),
            "description": spec.description,
            "multisliceCount": spec.multislice_count,
            "multislicePrefix": spec.multislice_prefix,
        }
        if spec.accelerator_config is not None:
            config = spec.accelerator_config
            body["acceleratorConfig"] = {"type": config.type, "topology": config.topology}
        specs.append(body)
    return {
        "nodeSpecs": specs,
        "spot": request.spot,
        "guaranteed": request.guaranteed,
        "reservation": request.reservation,
        "validUntilSeconds": request.valid_until_seconds,
    }


def request_from_dict(body: dict[str, Any]) -> QueuedResourceRequest:
    specs = []
    for spec in body.get("nodeSpecs", []):
        config = spec.get("acceleratorConfig")
        specs.append(
            QueuedNodeSpec(
                parent=spec["parent"],
                node_id=spec.get("nodeId", ""),
                accelerator_type=spec.get("acceleratorType", ""),
                accelerator_config=AcceleratorConfig(config["type"], config["topology"])
                if config
                else None,
                software_version=spec.get("runtimeVersion", ""),
                labels=spec.get("labels") or {},
                description=spec.get("description", ""),
                multislice_count=int(spec.get("multisliceCount") or 0),
                multislice_prefix=spec.get("multislicePrefix", ""),
            )
        )
    return QueuedResourceRequest(
        node_specs=tuple(specs),
        spot=bool(body.get("spot")),
        guaranteed=bool(body.get("guaranteed")),
        reservation=body.get("reservation", ""),
        valid_until_seconds=body.get("validUntilSeconds"),
    )


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
    parent = node.name.rsplit("/nodes/", 1)[0]
    spec = QueuedNodeSpec(
        parent=parent,
        node_id=node.node_id,
        accelerator_type=node.accelerator_type,
        software_version=node.software_version,
        labels=dict(node.labels),
        description=node.description,
    )
    return QueuedResourceRequest(node_specs=(spec,), spot=True)


def create_queued(deps: Deps, name: str, body: dict[str, Any], request_id: str) -> Operation:
    parts = name.split("/")
    return deps.tpu.create_queued_resource(
        parts[1], parts[3], parts[5], request_from_dict(body), request_id=request_id
    )


def requeue_target(target: str) -> str:
    """The queued resource a requeue creates again (a spot VM's: one with the VM's id)."""
    if "/queuedResources/" in target:
        return target
    parts = target.split("/")
    return queued_name(parts[1], parts[3], parts[5])


def recheck(deps: Deps, approval: Approval) -> policy.Verdict:
    """Before an approved queued-resource action runs: is the request still as it was?"""
    try:
        current: QueuedResource | None = deps.tpu.get_queued_resource(approval.target)
    except NotFound:
        current = None
    nodes = len(nodes_of(deps, current)) if current is not None else 0
    force = bool(approval.params.get("force")) or approval.action == cmd.Verb.REQUEUE
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
