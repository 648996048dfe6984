"""The v2 requests: queue create/delete/reset, Delete & requeue, labels, and recreate on another
runtime version. Each is checked (the API's own lists, the request's state) before anyone is
asked, then run now or filed for approval through `actions.request`."""

from __future__ import annotations

from datetime import datetime

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy, scope
from bot.core.commands import Verb
from bot.core.messages import Tone
from bot.core.models import UNRECOVERABLE, Node
from bot.core.noderef import NodeRef, UnknownNode, parse_ref
from bot.core.queued import QueuedNodeSpec, QueuedResourceRequest
from bot.usecases import actions
from bot.usecases.context import Actor, Deps
from bot.usecases.ports import NotFound
from bot.usecases.queue import (
    for_node,
    is_v2,
    nodes_of,
    queued_name,
    request_dict,
    resolve_queued,
    same_again,
    short,
)

MAX_LABELS = 64


def _refuse(
    deps: Deps, actor: Actor, action: str, target: str, why: str, now: datetime
) -> m.Message:
    deps.audit(now, actor.user, action, target, "refused", why)
    return m.Notice(why, Tone.ERROR)


def _project(deps: Deps, project: str | None, usage: str) -> str | m.Message:
    v2 = [p.id for p in deps.config.projects if p.api == "v2"]
    if project is None:
        if len(v2) != 1:
            which = ", ".join(v2) or "none on the TPU API v2"
            return m.Usage(
                f"Which project? Queued resources live in: {which}.", usage, "Add project=P."
            )
        return v2[0]
    if project not in {p.id for p in deps.config.projects}:
        return m.Notice(f"`{project}` is not a project this bot manages.", Tone.ERROR)
    if project not in v2:
        return m.Notice(
            f"`{project}` is configured with the TPU API v1alpha1, which has no queued resources.",
            Tone.ERROR,
        )
    return project


def create(deps: Deps, actor: Actor, command: cmd.QueueCreate, now: datetime) -> m.Message | None:
    project = _project(deps, command.project, cmd.USAGE["queue create"])
    if not isinstance(project, str):
        return project
    target = queued_name(project, command.zone, command.queued_id)
    problem = _impossible(deps, project, command, now)
    if problem is not None:
        return _refuse(deps, actor, Verb.QUEUE_CREATE, target, problem, now)
    parent = f"projects/{project}/locations/{command.zone}"
    spec = QueuedNodeSpec(
        parent=parent,
        node_id="" if command.nodes else command.queued_id,
        accelerator_type=command.accelerator_type,
        software_version=command.runtime,
        multislice_count=command.nodes,
        multislice_prefix=command.queued_id if command.nodes else "",
    )
    request = QueuedResourceRequest(
        node_specs=(spec,), spot=command.spot, valid_until_seconds=command.valid_for_seconds
    )
    params = {"request": request_dict(request)}
    return actions.request(deps, actor, Verb.QUEUE_CREATE, target, None, params, "", now)


def _impossible(deps: Deps, project: str, command: cmd.QueueCreate, now: datetime) -> str | None:
    """Why the API would refuse this request, from its own lists; None when it looks possible."""
    zone = command.zone
    out_of_scope = scope.problem(project, zone, deps.scopes)
    if out_of_scope is not None:
        return out_of_scope
    types = deps.catalog.types(deps.tpu, project, zone, now)
    if not types:
        return f"{zone} offers no TPUs (or is not a zone); `/tpu types ZONE` lists a zone's."
    if command.accelerator_type not in types:
        return f"`{command.accelerator_type}` is not offered in {zone}; one of: {', '.join(types)}."
    versions = deps.catalog.versions(deps.tpu, project, zone, now)
    if command.runtime not in versions:
        return (
            f"Runtime `{command.runtime}` is not offered in {zone}; one of: {', '.join(versions)}."
        )
    try:
        deps.tpu.get_queued_resource(queued_name(project, zone, command.queued_id))
    except NotFound:
        return None
    return f"A queued resource `{project}/{zone}/{command.queued_id}` already exists."


def delete(deps: Deps, actor: Actor, command: cmd.QueueDelete, now: datetime) -> m.Message | None:
    queued = resolve_queued(deps, command.name)
    nodes = nodes_of(deps, queued)
    verdict = policy.precheck_queued(Verb.QUEUE_DELETE, queued, command.force, len(nodes))
    if not verdict:
        return _refuse(deps, actor, Verb.QUEUE_DELETE, queued.name, verdict.reason, now)
    params = {"force": command.force}
    return actions.request(
        deps, actor, Verb.QUEUE_DELETE, queued.name, None, params, "", now, queued=queued
    )


def reset(deps: Deps, actor: Actor, command: cmd.QueueReset, now: datetime) -> m.Message | None:
    queued = resolve_queued(deps, command.name)
    verdict = policy.precheck_queued(Verb.QUEUE_RESET, queued)
    if not verdict:
        return _refuse(deps, actor, Verb.QUEUE_RESET, queued.name, verdict.reason, now)
    return actions.request(
        deps, actor, Verb.QUEUE_RESET, queued.name, None, {}, "", now, queued=queued
    )


def requeue(deps: Deps, actor: Actor, command: cmd.Requeue, now: datetime) -> m.Message | None:
    """Delete a FAILED/SUSPENDED queued resource (force) or a preempted spot VM, then queue the
    same request again once the delete is done (`operations.track`)."""
    if not command.node:
        try:
            queued = resolve_queued(deps, command.name)
        except UnknownNode:
            queued = None
        if queued is not None:
            verdict = policy.precheck_queued(Verb.REQUEUE, queued, force=True)
            if not verdict:
                return _refuse(deps, actor, Verb.REQUEUE, queued.name, verdict.reason, now)
            params = {"request": request_dict(same_again(queued))}
            reason = f"requeue after {queued.state.value.lower()}"
            return actions.request(
                deps, actor, Verb.REQUEUE, queued.name, None, params, reason, now, queued=queued
            )
    node = deps.tpu.resolve(command.name.text, deps.scopes)
    return _requeue_node(deps, actor, node, now)


def _requeue_node(deps: Deps, actor: Actor, node: Node, now: datetime) -> m.Message | None:
    if node.queued_resource:
        return requeue(deps, actor, cmd.Requeue(_ref(node.queued_resource)), now)
    if not is_v2(deps, node.project):
        why = "Requeue makes a queued resource, which needs the TPU API v2; use recreate."
        return _refuse(deps, actor, Verb.REQUEUE, node.name, why, now)
    if node.state not in UNRECOVERABLE or not (node.spot or node.preemptible):
        why = f"`{node.node_id}` is {node.state.value}; only a preempted spot VM is requeued."
        return _refuse(deps, actor, Verb.REQUEUE, node.name, why, now)
    params = {"request": request_dict(for_node(node))}
    reason = f"requeue after {node.state.value.lower()}"
    return actions.request(deps, actor, Verb.REQUEUE, node.name, node, params, reason, now)


def _ref(name: str) -> NodeRef:
    return parse_ref(short(name))


def label(deps: Deps, actor: Actor, command: cmd.Label, now: datetime) -> m.Message | None:
    node = deps.tpu.resolve(command.node.text, deps.scopes)
    if not is_v2(deps, node.project):
        why = f"Labels are changed through the TPU API v2; {node.project} is on v1alpha1."
        return _refuse(deps, actor, Verb.LABEL, node.name, why, now)
    labels = dict(node.labels)
    for key, value in command.labels:
        if value:
            labels[key] = value
        else:
            labels.pop(key, None)
    if len(labels) > MAX_LABELS:
        why = f"A node takes at most {MAX_LABELS} labels; this would make {len(labels)}."
        return _refuse(deps, actor, Verb.LABEL, node.name, why, now)
    if labels == dict(node.labels):
        return m.Notice(f"`{node.node_id}` already has those labels.", Tone.WARNING)
    params = {"labels": labels}
    return actions.request(deps, actor, Verb.LABEL, node.name, node, params, "", now)


def recreate_on_runtime(
    deps: Deps, actor: Actor, command: cmd.Recreate, now: datetime
) -> m.Message | None:
    """A TPU VM deleted and created again on another runtime version (v2's reimage)."""
    node = deps.tpu.resolve(command.node.text, deps.scopes)
    runtime = str(command.runtime)
    if node.queued_resource:
        why = (
            f"`{node.node_id}` belongs to queued resource `{short(node.queued_resource)}`: "
            "queue a new request with the runtime version instead."
        )
        return _refuse(deps, actor, Verb.RECREATE, node.name, why, now)
    offered = deps.catalog.versions(deps.tpu, node.project, node.zone, now)
    if runtime not in offered:
        why = f"Runtime `{runtime}` is not offered in {node.zone}; one of: {', '.join(offered)}."
        return _refuse(deps, actor, Verb.RECREATE, node.name, why, now)
    if runtime == node.software_version:
        return m.Notice(f"The node already runs `{runtime}`.", Tone.WARNING)
    verdict = policy.precheck(Verb.DELETE, node)
    if not verdict:
        return _refuse(deps, actor, Verb.RECREATE, node.name, verdict.reason, now)
    spec = node.spec.as_dict()
    spec["tensorflowVersion"] = runtime
    params = {"spec": spec, "runtime": runtime}
    reason = f"recreate on runtime {runtime}"
    return actions.request(deps, actor, Verb.RECREATE, node.name, node, params, reason, now)


def reimage_offer(deps: Deps, node: Node) -> m.Message:
    """Reimage on a v2 TPU VM: there is none; offer recreate on a runtime version."""
    versions = deps.tpu.list_runtime_versions(node.project, node.zone)
    why = (
        "The TPU API v2 has no reimage: a TPU VM is deleted and created again on the runtime "
        "version you pick."
    )
    return m.RecreatePicker(node, tuple(v.version for v in versions), why)


def reimage(deps: Deps, actor: Actor, command: cmd.Reimage, now: datetime) -> m.Message | None:
    """Reimage: v1alpha1 nodes through `actions.mutate`; a v2 TPU VM is offered recreate."""
    node = deps.tpu.resolve(command.node.text, deps.scopes)
    if not is_v2(deps, node.project):
        return actions.mutate(deps, actor, command, now)
    deps.audit(now, actor.user, Verb.REIMAGE, node.name, "refused", "v2 has no reimage")
    return reimage_offer(deps, node)
