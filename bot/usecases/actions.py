"""Mutations: check, then run now or ask an approver; the one place that calls the API for them."""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime, timedelta
from typing import Any

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy, scope
from bot.core.commands import Verb
from bot.core.messages import Tone
from bot.core.models import Node, NodeName, NodeSpec
from bot.core.operations import Operation
from bot.core.queued import QueuedResource
from bot.core.records import Approval, TrackedOperation
from bot.usecases import queue
from bot.usecases.context import Actor, Deps
from bot.usecases.ports import NotFound


def execute(
    deps: Deps, action: str, target: str, params: dict[str, Any], request_id: str
) -> Operation:
    """The API call behind an action. create/delete carry `request_id`, reused on every retry."""
    queued = _execute_v2(deps, action, target, params, request_id)
    if queued is not None:
        return queued
    if action == "stop":
        return deps.tpu.stop_node(target)
    if action == "start":
        return deps.tpu.start_node(target)
    if action == "reimage":
        return deps.tpu.reimage_node(target, str(params["version"]))
    if action in ("delete", "recreate"):
        # A recreate starts with the delete; the create follows when it is done (operations.py).
        return deps.tpu.delete_node(target, request_id=request_id)
    if action == "create":
        return create_from_spec(deps, target, params["spec"], request_id)
    raise ValueError(f"unknown action {action!r}")


def _execute_v2(
    deps: Deps, action: str, target: str, params: dict[str, Any], request_id: str
) -> Operation | None:
    """The calls of the v2 actions (None: not one of them)."""
    if action == Verb.LABEL:
        return deps.tpu.label_node(target, dict(params["labels"]))
    if action == Verb.QUEUE_CREATE:
        return queue.create_queued(deps, target, dict(params["request"]), request_id)
    if action == Verb.QUEUE_DELETE:
        force = bool(params.get("force"))
        return deps.tpu.delete_queued_resource(target, force=force, request_id=request_id)
    if action == Verb.QUEUE_RESET:
        return deps.tpu.reset_queued_resource(target)
    if action == Verb.REQUEUE:
        # The delete first; the same request is queued again when it is done (operations.py).
        if "/queuedResources/" in target:
            return deps.tpu.delete_queued_resource(target, force=True, request_id=request_id)
        return deps.tpu.delete_node(target, request_id=request_id)
    return None


def create_from_spec(deps: Deps, target: str, spec: dict[str, Any], request_id: str) -> Operation:
    """Create the node an approval stored the spec of (`NodeSpec.as_dict`)."""
    name = NodeName.parse(target)
    return deps.tpu.create_node(
        name.project, name.zone, name.node_id, NodeSpec.from_dict(spec), request_id=request_id
    )


# Actions that delete first and create when the delete is done (operations.track).
TWO_STEP = frozenset({Verb.RECREATE, Verb.REQUEUE})


def second_step_key(operation: str) -> str:
    """Where an unapproved two-step action keeps its spec and requestId."""
    return f"second-step:{operation}"


def run_now(
    deps: Deps, actor: Actor, action: str, target: str, params: dict[str, Any], now: datetime
) -> m.Message | None:
    """No approval needed: call the API, and tell the story in a thread of the requester's
    channel (through the outbox; the drainer moves it to the alerts channel if the bot is not a
    member there)."""
    request_id = deps.new_id()
    operation = execute(deps, action, target, params, request_id)
    started = m.OperationStarted(action, target, operation.name, actor.user)
    with deps.watch.begin() as conn:
        if action in TWO_STEP:
            # What the second step creates, kept with the first step's operation.
            second = {"params": params, "request_id": request_id}
            deps.watch.put(conn, second_step_key(operation.name), json.dumps(second))
        root = deps.outbox.post(
            conn, actor.channel, started, now=now, fallback=deps.config.channels.alerts
        )
        deps.store.add_operation(
            TrackedOperation(
                name=operation.name,
                target=target,
                verb=action,
                requester=actor.user,
                channel=actor.channel,
                thread_ts="",
                thread_outbox=root,
                message_outbox=root,
                created_at=now,
            ),
            conn=conn,
        )
    deps.audit(now, actor.user, action, target, "started", operation.name)
    return m.Notice(
        f"Started: {action} `{queue.short(target)}`; follow it in its thread.", Tone.SUCCESS
    )


def request(
    deps: Deps,
    actor: Actor,
    action: str,
    target: str,
    node: Node | None,
    params: dict[str, Any],
    reason: str,
    now: datetime,
    *,
    queued: QueuedResource | None = None,
) -> m.Message | None:
    """Run the action, or file an approval request when the policy says so. What the requester
    saw of the node (or of the queued resource) is kept to re-check before it runs."""
    if not policy.needs_approval(action, deps.config.approvals):
        return run_now(deps, actor, action, target, params, now)
    pending = deps.store.pending_request(action, target)
    if pending is not None:
        deps.audit(now, actor.user, f"request {action}", target, "duplicate", pending.id)
        where = pending.channel or deps.config.channels.approvals
        return m.Notice(
            f"<@{pending.requester}> already asked to {action} `{queue.short(target)}`; that "
            f"request is waiting for an approver in <#{where}>.",
            Tone.WARNING,
        )
    approvals_channel = deps.config.channels.approvals
    approval = Approval(
        id=deps.new_id(),
        action=action,
        target=target,
        requester=actor.user,
        requester_channel=actor.channel,
        created_at=now,
        expires_at=now + timedelta(minutes=deps.config.approvals.ttl_minutes),
        reason=reason,
        params=params,
        node_state=node.state.value if node else (queued.state.value if queued else ""),
        node_create_time=node.create_time if node else (queued.create_time if queued else None),
        node_version=node.tensorflow_version if node else "",
        request_id=deps.new_id(),
        channel=approvals_channel,
    )
    ttl = deps.config.approvals.ttl_minutes
    with deps.watch.begin() as conn:
        deps.store.add_approval(approval, conn=conn)
        root = deps.outbox.post(conn, approvals_channel, m.ApprovalRequest(approval, ttl), now=now)
        deps.store.set_approval(approval.id, conn=conn, root_outbox=root)
    deps.audit(now, actor.user, f"request {action}", target, "pending", reason)
    return m.ApprovalQueued(approval, approvals_channel)


def mutate(deps: Deps, actor: Actor, command: cmd.Command, now: datetime) -> m.Message | None:
    """A typed or clicked mutation, after the role check."""
    action = cmd.ACTION_OF[type(command)]
    if isinstance(command, cmd.Create):
        return _create(deps, actor, command, now)
    assert isinstance(command, cmd.Stop | cmd.Start | cmd.Reimage | cmd.Delete)
    node = deps.tpu.resolve(command.node.text, deps.scopes)
    if isinstance(command, cmd.Reimage) and command.version is None:
        versions = deps.tpu.list_tensorflow_versions(node.project, node.zone)
        return m.ReimagePicker(node, tuple(v.version for v in versions))
    verdict = policy.precheck(action, node)
    if not verdict:
        deps.audit(now, actor.user, action, node.name, "refused", verdict.reason)
        return m.Notice(verdict.reason, Tone.ERROR)
    params: dict[str, Any] = {}
    if isinstance(command, cmd.Reimage):
        offered = [v.version for v in deps.tpu.list_tensorflow_versions(node.project, node.zone)]
        if command.version not in offered:
            return m.Notice(
                f"TensorFlow `{command.version}` is not offered in {node.zone}; "
                f"one of: {', '.join(offered)}.",
                Tone.ERROR,
            )
        if command.version == node.tensorflow_version:
            return m.Notice(f"The node already runs TensorFlow `{command.version}`.", Tone.WARNING)
        params["version"] = command.version
    reason = getattr(command, "reason", "")
    return request(deps, actor, action, node.name, node, params, reason, now)


def _create(deps: Deps, actor: Actor, command: cmd.Create, now: datetime) -> m.Message | None:
    managed = {p.id: p for p in deps.config.projects}
    project = command.project
    if project is None:
        if len(managed) != 1:
            return m.Usage(
                f"Which project? This bot manages {', '.join(managed)}.",
                cmd.USAGE["create"],
                "Add project=P.",
            )
        project = next(iter(managed))
    out_of_scope = scope.problem(project, command.zone, deps.scopes)
    if out_of_scope is not None:
        deps.audit(now, actor.user, "create", command.node_id, "out of scope", out_of_scope)
        return m.Refusal(out_of_scope)
    problem = _impossible_create(deps, project, command, now)
    if problem is not None:
        deps.audit(now, actor.user, "create", command.node_id, "refused", problem)
        return m.Notice(problem, Tone.ERROR)
    target = NodeName(project, command.zone, command.node_id).full
    spec = NodeSpec(
        accelerator_type=command.accelerator_type,
        tensorflow_version=command.version,
        cidr_block=command.cidr,
        network=command.network,
        description=command.description,
        preemptible=command.preemptible,
        labels=dict(command.labels),
    )
    return request(deps, actor, "create", target, None, {"spec": spec.as_dict()}, "", now)


def _impossible_create(deps: Deps, project: str, command: cmd.Create, now: datetime) -> str | None:
    """Why the API would refuse this create, checked against its own lists before anyone is
    asked to approve it; None when it looks possible."""
    allowed = next((p.networks for p in deps.config.projects if p.id == project), ())
    network = scope.network_problem(command.network, project, allowed)
    if network is not None:
        return network
    zone = command.zone
    types = deps.catalog.types(deps.tpu, project, zone, now)
    if not types:
        return f"{zone} offers no TPU nodes (or is not a zone); `/tpu types ZONE` lists a zone's."
    if command.accelerator_type not in types:
        return f"`{command.accelerator_type}` is not offered in {zone}; one of: {', '.join(types)}."
    versions = deps.catalog.versions(deps.tpu, project, zone, now)
    if command.version not in versions:
        return f"`{command.version}` is not offered in {zone}; one of: {', '.join(versions)}."
    name = NodeName(project, zone, command.node_id)
    try:
        deps.tpu.get_node(name.full)
    except NotFound:
        pass
    else:
        return f"`{name.display}` already exists."
    if command.cidr:
        return _cidr_problem(deps, project, command)
    return None


def _cidr_problem(deps: Deps, project: str, command: cmd.Create) -> str | None:
    try:
        network = ipaddress.IPv4Network(command.cidr, strict=True)
    except ValueError:
        return f"`{command.cidr}` is not a network address (like 10.2.0.0/29)."
    if network.prefixlen != 29:
        return f"`{command.cidr}` must be a /29 block (8 addresses), like 10.2.0.0/29."
    wanted = _network_id(command.network)
    for node in deps.tpu.list_nodes(project, ("-",)).nodes:
        if node.cidr_block == command.cidr and _network_id(node.network) == wanted:
            return f"`{command.cidr}` is already used by `{node.ref.display}` in network {wanted}."
    return None


def _network_id(network: str) -> str:
    """`default`, `my-net` or `projects/P/global/networks/my-net` -> the network's own id."""
    return (network or "default").rsplit("/", 1)[-1]
