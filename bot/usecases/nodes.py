"""What people do to TPUs (nodes): stop, start, reimage, delete, create, recreate, label. Each is
checked (the node's state, the API's own lists, the config's scope and networks) before anyone
is asked, then run now or filed for an approver (`requests.request`)."""

from __future__ import annotations

import ipaddress
from datetime import datetime

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy, scope
from bot.core.commands import Verb, usage_of
from bot.core.instances import Instance
from bot.core.messages import Tone
from bot.core.models import Node, NodeSpec
from bot.core.names import Kind, ResourceName
from bot.core.text import Code, Said, say
from bot.usecases import instances
from bot.usecases.catalog import not_offered
from bot.usecases.context import Actor, Deps
from bot.usecases.ports import NotFound
from bot.usecases.registry import Outcome, handles, refused
from bot.usecases.requests import request
from bot.usecases.tpus import resolve_tpu

MAX_LABELS = 64


def is_v2(deps: Deps, project: str) -> bool:
    return any(p.id == project and p.api == "v2" for p in deps.config.projects)


@handles(cmd.Stop, cmd.Start, cmd.Delete)
def mutate(
    deps: Deps, actor: Actor, command: cmd.Stop | cmd.Start | cmd.Delete, now: datetime
) -> Outcome:
    """Stop, start or delete a node, after the role check."""
    action = cmd.spec_of(command).verb
    assert action is not None
    reason = getattr(command, "reason", "")
    found = resolve_tpu(deps, command.node.text)
    if isinstance(found, Instance):  # a TPU VM instance: the same action, on its kind
        return instances.mutate(deps, actor, action, found, reason, now)
    node = found
    verdict = policy.precheck(action, node)
    if not verdict:
        return refused(verdict.reason, node.name, action)
    return request(deps, actor, action, node.name, node, {}, reason, now)


@handles(cmd.Reimage)
def reimage(deps: Deps, actor: Actor, command: cmd.Reimage, now: datetime) -> Outcome:
    """Reimage a TPU Node (v1alpha1); a v2 TPU VM has none and is offered recreate instead."""
    node = deps.tpu.resolve(command.node.text, deps.scopes)
    if is_v2(deps, node.project):
        return Outcome(_reimage_offer(deps, node), "refused", node.name, "v2 has no reimage")
    if command.version is None:
        versions = deps.tpu.list_tensorflow_versions(node.project, node.zone)
        return Outcome(m.ReimagePicker(node, tuple(v.version for v in versions)))
    verdict = policy.precheck(Verb.REIMAGE, node)
    if not verdict:
        return refused(verdict.reason, node.name, Verb.REIMAGE)
    offered = [v.version for v in deps.tpu.list_tensorflow_versions(node.project, node.zone)]
    if command.version not in offered:
        why = say(
            "TensorFlow ",
            Code(command.version),
            f" is not offered in {node.zone}; ",
            f"one of: {', '.join(offered)}.",
        )
        return refused(why, node.name, Verb.REIMAGE)
    if command.version == node.tensorflow_version:
        why = say("The node already runs TensorFlow ", Code(command.version), ".")
        return Outcome(m.Notice(why, Tone.WARNING), "unchanged", node.name, why, Verb.REIMAGE)
    params = {"version": command.version}
    return request(deps, actor, Verb.REIMAGE, node.name, node, params, "", now)


def _reimage_offer(deps: Deps, node: Node) -> m.Message:
    """Reimage on a v2 TPU VM: there is none; offer recreate on a runtime version."""
    versions = deps.tpu.list_runtime_versions(node.project, node.zone)
    why = (
        "The TPU API v2 has no reimage: a TPU VM is deleted and created again on the runtime "
        "version you pick."
    )
    return m.RecreatePicker(node, tuple(v.version for v in versions), why)


@handles(cmd.Recreate)
def recreate(deps: Deps, actor: Actor, command: cmd.Recreate, now: datetime) -> Outcome:
    """Delete and create the same node again (a preempted one), or a TPU VM on another runtime
    version (v2's reimage), through the approval flow."""
    node = deps.tpu.resolve(command.node.text, deps.scopes)
    if command.runtime is not None:
        return _recreate_on_runtime(deps, actor, node, command.runtime, now)
    check = policy.precheck(Verb.RECREATE, node)
    if not check:
        return refused(check.reason, node.name, Verb.RECREATE)
    params = {"spec": node.spec.as_dict()}
    reason = f"recreate after {node.state.value.lower()}"
    return request(deps, actor, Verb.RECREATE, node.name, node, params, reason, now)


def _recreate_on_runtime(
    deps: Deps, actor: Actor, node: Node, runtime: str, now: datetime
) -> Outcome:
    if node.queued_resource:
        why = say(
            Code(node.node_id),
            " belongs to queued resource ",
            Code(ResourceName.parse(node.queued_resource).display),
            ": queue a new request with the runtime version instead.",
        )
        return refused(why, node.name, Verb.RECREATE)
    offered = deps.catalog.versions(deps.tpu, node.project, node.zone, now)
    if runtime not in offered:
        why = say(
            "Runtime ",
            Code(runtime),
            f" is not offered in {node.zone}; one of: ",
            f"{', '.join(offered)}.",
        )
        return refused(why, node.name, Verb.RECREATE)
    if runtime == node.software_version:
        why = say("The node already runs ", Code(runtime), ".")
        return Outcome(m.Notice(why, Tone.WARNING), "unchanged", node.name, why, Verb.RECREATE)
    verdict = policy.precheck(Verb.DELETE, node)
    if not verdict:
        return refused(verdict.reason, node.name, Verb.RECREATE)
    spec = node.spec.as_dict()
    spec["tensorflowVersion"] = runtime
    params = {"spec": spec, "runtime": runtime}
    reason = f"recreate on runtime {runtime}"
    return request(deps, actor, Verb.RECREATE, node.name, node, params, reason, now)


@handles(cmd.Label)
def label(deps: Deps, actor: Actor, command: cmd.Label, now: datetime) -> Outcome:
    found = resolve_tpu(deps, command.node.text)
    if isinstance(found, Instance):
        return instances.label(deps, actor, found, command.labels, now)
    node = found
    if not is_v2(deps, node.project):
        why: Said = f"Labels are changed through the TPU API v2; {node.project} is on v1alpha1."
        return refused(why, node.name, Verb.LABEL)
    labels = dict(node.labels)
    for key, value in command.labels:
        if value:
            labels[key] = value
        else:
            labels.pop(key, None)
    if len(labels) > MAX_LABELS:
        why = f"A node takes at most {MAX_LABELS} labels; this would make {len(labels)}."
        return refused(why, node.name, Verb.LABEL)
    if labels == dict(node.labels):
        why = say(Code(node.node_id), " already has those labels.")
        return Outcome(m.Notice(why, Tone.WARNING), "unchanged", node.name, why, Verb.LABEL)
    return request(deps, actor, Verb.LABEL, node.name, node, {"labels": labels}, "", now)


# ----- create ----------------------------------------------------------------------------------


@handles(cmd.Create)
def create(deps: Deps, actor: Actor, command: cmd.Create, now: datetime) -> Outcome:
    managed = [p.id for p in deps.config.projects]
    project = command.project
    if project is None:
        if len(managed) != 1:
            which = f"Which project? This bot manages {', '.join(managed)}."
            answer = m.Usage(which, usage_of("create"), "Add project=P.")
            return Outcome(answer, "usage error", command.node_id, which, Verb.CREATE)
        project = managed[0]
    target = ResourceName.of(project, command.zone, Kind.NODE, command.node_id).full
    out_of_scope = scope.problem(project, command.zone, deps.scopes)
    if out_of_scope is not None:
        return Outcome(m.Refusal(out_of_scope), "out of scope", target, out_of_scope, Verb.CREATE)
    problem = _impossible_create(deps, project, command, now)
    if problem is not None:
        return refused(problem, target, Verb.CREATE)
    spec = NodeSpec(
        accelerator_type=command.accelerator_type,
        tensorflow_version=command.version,
        cidr_block=command.cidr,
        network=command.network,
        description=command.description,
        preemptible=command.preemptible,
        labels=dict(command.labels),
    )
    return request(deps, actor, Verb.CREATE, target, None, {"spec": spec.as_dict()}, "", now)


def _impossible_create(deps: Deps, project: str, command: cmd.Create, now: datetime) -> Said | None:
    """Why the API would refuse this create, checked against its own lists before anyone is
    asked to approve it; None when it looks possible."""
    allowed = next((p.networks for p in deps.config.projects if p.id == project), ())
    network = scope.network_problem(command.network, project, allowed)
    if network is not None:
        return network
    zone = command.zone
    offered = not_offered(
        deps.catalog, deps.tpu, project, zone, command.accelerator_type, command.version, now,
        what="TPU nodes",
    )  # fmt: skip
    if offered is not None:
        return offered
    name = ResourceName.of(project, zone, Kind.NODE, command.node_id)
    try:
        deps.tpu.get_node(name.full)
    except NotFound:
        pass
    else:
        return say(Code(name.display), " already exists.")
    if command.cidr:
        return _cidr_problem(deps, project, command)
    return None


def _cidr_problem(deps: Deps, project: str, command: cmd.Create) -> Said | None:
    try:
        network = ipaddress.IPv4Network(command.cidr, strict=True)
    except ValueError:
        return say(Code(command.cidr), " is not a network address (like 10.2.0.0/29).")
    if network.prefixlen != 29:
        return say(Code(command.cidr), " must be a /29 block (8 addresses), like 10.2.0.0/29.")
    wanted = _network_id(command.network)
    for node in deps.tpu.list_nodes(project, ("-",)).nodes:
        if node.cidr_block == command.cidr and _network_id(node.network) == wanted:
            return say(
                Code(command.cidr),
                " is already used by ",
                Code(node.ref.display),
                f" in network {wanted}.",
            )
    return None


def _network_id(network: str) -> str:
    """`default`, `my-net` or `projects/P/global/networks/my-net` -> the network's own id."""
    return (network or "default").rsplit("/", 1)[-1]
