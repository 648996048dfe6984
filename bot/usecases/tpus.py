"""Every kind of TPU a team runs, read together: nodes (from the projects whose sources have
`tpu`) and TPU VM instances (`compute`). What a person names is resolved across both kinds;
listings hold both, trouble first."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Sequence

from bot.core import noderef, scope
from bot.core.instances import DOWN, Instance, InstanceStatus, instance_name
from bot.core.models import UNHEALTHY, UNRECOVERABLE, Node, NodeState, ProjectScope
from bot.usecases.context import Deps
from bot.usecases.ports import ComputeApi, NotFound

Tpu = Node | Instance


def compute(deps: Deps) -> ComputeApi:
    """The Compute port; only asked for where a compute scope exists (so it is wired)."""
    assert deps.compute is not None, "no Compute Engine client is wired"
    return deps.compute


def resolve_tpu(deps: Deps, text: str) -> Tpu:
    """What a person typed -> the one node or instance it names, among the projects the bot
    manages; a reference that names none or several raises with the candidates."""
    compute_scopes = deps.compute_scopes
    if not compute_scopes:
        return deps.tpu.resolve(text, deps.tpu_scopes)
    ref = noderef.parse_ref(text)
    scope.require(ref.project, ref.zone, deps.scopes)  # before any call: nothing outside is read
    tpu_projects = {s.project for s in deps.tpu_scopes}
    compute_projects = {s.project for s in compute_scopes}
    if ref.project and ref.zone:
        found = _qualified(deps, ref, tpu_projects, compute_projects)
        if found is not None:
            return found
    candidates, partial = listing(deps, project=ref.project)
    return noderef.resolve(ref, candidates, partial=partial)


def _qualified(
    deps: Deps, ref: noderef.NodeRef, tpu_projects: set[str], compute_projects: set[str]
) -> Tpu | None:
    """The one a full reference names, asked by name (None: not found that way)."""
    assert ref.project is not None and ref.zone is not None
    found: list[Tpu] = []
    if ref.project in tpu_projects and ref.qualified is not None:
        with contextlib.suppress(NotFound):
            found.append(deps.tpu.get_node(ref.qualified.full))
    if ref.project in compute_projects:
        name = instance_name(ref.project, ref.zone, ref.node_id)
        with contextlib.suppress(NotFound):
            found.append(compute(deps).get_instance(name))
    return found[0] if len(found) == 1 else None


def listing(
    deps: Deps, project: str | None = None, zone: str | None = None
) -> tuple[list[Tpu], bool]:
    """Every TPU of the managed projects (of `project`, in `zone`, if given), and whether some
    zone did not answer."""
    found, unreachable = list_all(deps, project, zone)
    return found, bool(unreachable)


def _locations(where: ProjectScope, zone: str | None) -> Sequence[str] | None:
    if zone is None:
        return where.locations
    return (zone,) if scope.covers(where, zone) else None


def list_all(
    deps: Deps, project: str | None = None, zone: str | None = None
) -> tuple[list[Tpu], list[str]]:
    """Nodes and instances together, with the zones (or locations) that did not answer."""
    found: list[Tpu] = []
    unreachable: list[str] = []
    for where in deps.tpu_scopes:
        locations = _locations(where, zone)
        if project not in (None, where.project) or locations is None:
            continue
        nodes = deps.tpu.list_nodes(where.project, locations)
        found.extend(nodes.nodes)
        unreachable.extend(nodes.unreachable)
    for where in deps.compute_scopes:
        locations = _locations(where, zone)
        if project not in (None, where.project) or locations is None:
            continue
        instances = compute(deps).list_instances(where.project, locations)
        found.extend(instances.instances)
        unreachable.extend(f"{where.project}/{z}" for z in instances.unreachable)
    return found, unreachable


def trouble_first(tpu: Tpu) -> tuple[int, str]:
    """Broken first, then on the move, then the rest; by name within each."""
    if isinstance(tpu, Instance):
        status = tpu.status
        if status is InstanceStatus.REPAIRING or (status in DOWN and tpu.spot):
            rank = 0
        elif status not in (InstanceStatus.RUNNING, *DOWN) or tpu.maintenance is not None:
            rank = 1
        else:
            rank = 2
        return rank, tpu.name
    if tpu.state in UNRECOVERABLE or tpu.health in UNHEALTHY:
        rank = 0
    elif tpu.state not in (NodeState.READY, NodeState.STOPPED):
        rank = 1
    else:
        rank = 2
    return rank, tpu.name


def summary(tpus: Iterable[Tpu]) -> list[tuple[str, int]]:
    """(state or status, count), and how many are unhealthy, most first."""
    counts: Counter[str] = Counter()
    for tpu in tpus:
        if isinstance(tpu, Instance):
            counts[tpu.status.value] += 1
            continue
        counts[tpu.state.value] += 1
        if tpu.health in UNHEALTHY:
            counts["unhealthy"] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
