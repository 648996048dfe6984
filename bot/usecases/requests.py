"""What every action shares, whatever it acts on: the API call behind it, running it now or filing
it for an approver, and the one rule for adopting an operation an earlier attempt started."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.core import messages as m
from bot.core import policy
from bot.core.commands import Verb
from bot.core.instances import Instance
from bot.core.messages import Tone
from bot.core.models import Node, NodeSpec
from bot.core.names import Kind, ResourceName
from bot.core.operations import Operation
from bot.core.queued import QueuedResource, QueuedResourceRequest
from bot.core.records import Approval, TrackedOperation
from bot.core.text import Channel, Code, User, say
from bot.usecases.context import Actor, Deps
from bot.usecases.ports import NotSupported
from bot.usecases.registry import Outcome

# What each action's first call is, as the API's operations name it (a recreate and a requeue
# start with the delete; a label is v2's nodes.patch, whose operations say `update`).
API_VERB = {
    Verb.RECREATE: "delete",
    Verb.REQUEUE: "delete",
    Verb.QUEUE_CREATE: "create",
    Verb.QUEUE_DELETE: "delete",
    Verb.QUEUE_RESET: "reset",
    Verb.LABEL: "update",
}
# Actions that delete first and create when the delete is done (operations.track).
TWO_STEP = frozenset({Verb.RECREATE, Verb.REQUEUE})
# The same, for what lives under `zones/` (instances, flex-start requests, sub-blocks): their
# operations' operationType.
ZONAL_API_VERB = {
    Verb.LABEL: "setLabels",
    Verb.REPORT_FAULTY: "reportHostAsFaulty",
    Verb.MAINTENANCE: "performMaintenance",
    Verb.QUEUE_CANCEL: "cancel",
    Verb.REQUEUE: "delete",
}


def api_verb(action: str, target: str) -> str:
    """The verb the API's operations give the first call of `action` on `target`."""
    name = ResourceName.find(target)
    table = ZONAL_API_VERB if name is not None and name.in_zones else API_VERB
    return table.get(Verb(action), action)


def execute(
    deps: Deps, action: str, target: str, params: dict[str, Any], request_id: str
) -> Operation:
    """The API call behind an action. create/delete carry `request_id`, reused on every retry;
    every call on an instance, a flex-start request or a sub-block does."""
    if ResourceName.parse(target).in_zones:
        return _execute_zonal(deps, action, target, params, request_id)
    calls: dict[str, Callable[[], Operation]] = {
        Verb.STOP: lambda: deps.tpu.stop_node(target),
        Verb.START: lambda: deps.tpu.start_node(target),
        Verb.REIMAGE: lambda: deps.tpu.reimage_node(target, str(params["version"])),
        # A recreate starts with the delete; the create follows when it is done.
        Verb.DELETE: lambda: deps.tpu.delete_node(target, request_id=request_id),
        Verb.RECREATE: lambda: deps.tpu.delete_node(target, request_id=request_id),
        Verb.CREATE: lambda: create_from_spec(deps, target, params["spec"], request_id),
        Verb.LABEL: lambda: deps.tpu.label_node(target, dict(params["labels"])),
        Verb.QUEUE_CREATE: lambda: create_queued(deps, target, params["request"], request_id),
        Verb.QUEUE_DELETE: lambda: deps.tpu.delete_queued_resource(
            target, force=bool(params.get("force")), request_id=request_id
        ),
        Verb.QUEUE_RESET: lambda: deps.tpu.reset_queued_resource(target),
        # The delete first; the same request is queued again when it is done.
        Verb.REQUEUE: lambda: (
            deps.tpu.delete_queued_resource(target, force=True, request_id=request_id)
            if ResourceName.parse(target).is_queued_resource
            else deps.tpu.delete_node(target, request_id=request_id)
        ),
    }
    if action not in calls:
        raise ValueError(f"unknown action {action!r}")
    return calls[action]()


def _execute_zonal(
    deps: Deps, action: str, target: str, params: dict[str, Any], request_id: str
) -> Operation:
    """The calls on what lives under `zones/`: instances, flex-start requests, sub-blocks."""
    compute = deps.compute
    if compute is None:
        raise NotSupported(f"{target} is a Compute Engine resource and no client is configured")
    body = dict(params.get("request") or {})
    calls: dict[str, Callable[[], Operation]] = {
        Verb.STOP: lambda: compute.stop_instance(target, request_id),
        Verb.START: lambda: compute.start_instance(target, request_id),
        Verb.DELETE: lambda: compute.delete_instance(target, request_id),
        Verb.LABEL: lambda: compute.set_instance_labels(
            target, dict(body["labels"]), str(body["labelFingerprint"]), request_id
        ),
        Verb.REPORT_FAULTY: lambda: compute.report_host_faulty(target, body, request_id),
        Verb.MAINTENANCE: lambda: compute.perform_maintenance(target, request_id),
        Verb.QUEUE_CANCEL: lambda: compute.cancel_flex_request(target, request_id),
        # The delete first; the same request is asked for again when it is done.
        Verb.REQUEUE: lambda: compute.delete_flex_request(target, request_id),
    }
    if action not in calls:
        raise ValueError(f"unknown action {action!r} on {target}")
    return calls[action]()


def create_from_spec(deps: Deps, target: str, spec: dict[str, Any], request_id: str) -> Operation:
    """Create the node an approval stored the spec of (`NodeSpec.as_dict`)."""
    name = ResourceName.parse(target)
    return deps.tpu.create_node(
        name.project, name.zone, name.id, NodeSpec.from_dict(spec), request_id=request_id
    )


def create_queued(deps: Deps, target: str, body: dict[str, Any], request_id: str) -> Operation:
    """Create the queued resource a request stored (`QueuedResourceRequest.as_dict`)."""
    name = ResourceName.parse(target)
    request = QueuedResourceRequest.from_dict(body)
    return deps.tpu.create_queued_resource(
        name.project, name.zone, name.id, request, request_id=request_id
    )


def second_step_key(operation: str) -> str:
    """Where an unapproved two-step action keeps its spec and requestId."""
    return f"second-step:{operation}"


def earlier_operation(
    deps: Deps,
    target: str,
    verb: str,
    since: datetime,
    ours: Callable[[Operation], bool] = lambda op: True,
) -> Operation | None:
    """The one rule for adopting what an earlier attempt started: the newest operation on
    `target` with the API verb `verb`, begun since `since`, that is `ours` (not another
    request's). Adopting it instead of calling again keeps an action to one run when an attempt
    was cut off, or its answer lost, after the API accepted it."""
    name = ResourceName.parse(target)
    if name.in_zones and deps.compute is not None:
        listed = deps.compute.list_operations(name.project, name.zone, target)
    else:
        listed = deps.tpu.list_operations(name.project, name.zone)
    found = [
        op
        for op in listed
        if op.target == target
        and op.verb == verb
        and (op.create_time is None or op.create_time >= since)
        and ours(op)
    ]
    return max(found, key=lambda op: op.name) if found else None


def run_now(
    deps: Deps, actor: Actor, action: str, target: str, params: dict[str, Any], now: datetime
) -> Outcome:
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
    short = Code(ResourceName.parse(target).display)
    answer = m.Notice(say(f"Started: {action} ", short, "; follow it in its thread."), Tone.SUCCESS)
    return Outcome(answer, "started", target, operation.name, action)


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
    instance: Instance | None = None,
    seen: tuple[str, datetime | None] | None = None,
) -> Outcome:
    """Run the action, or file an approval request when the policy says so. What the requester
    saw of the node (or of the queued resource, the instance, or `seen`: any other thing's state
    and creation time) is kept to re-check before it runs."""
    if not policy.needs_approval(action, deps.config.approvals):
        return run_now(deps, actor, action, target, params, now)
    pending = deps.store.pending_request(action, target)
    if pending is not None:
        where = pending.channel or deps.config.channels.approvals
        answer = m.Notice(
            say(
                User(pending.requester),
                f" already asked to {action} ",
                Code(ResourceName.parse(target).display),
                "; that request is waiting for an approver in ",
                Channel(where),
                ".",
            ),
            Tone.WARNING,
        )
        return Outcome(answer, "duplicate", target, pending.id, f"request {action}")
    if instance is not None:
        seen = (instance.status.value, instance.create_time)
    approval = _approval(deps, actor, action, target, node, queued, params, reason, now, seen)
    ttl = deps.config.approvals.ttl_minutes
    with deps.watch.begin() as conn:
        deps.store.add_approval(approval, conn=conn)
        root = deps.outbox.post(conn, approval.channel, m.ApprovalRequest(approval, ttl), now=now)
        deps.store.set_approval(approval.id, conn=conn, root_outbox=root)
    asked = m.ApprovalQueued(approval, approval.channel)
    return Outcome(asked, "pending", target, reason, f"request {action}")


def _approval(
    deps: Deps,
    actor: Actor,
    action: str,
    target: str,
    node: Node | None,
    queued: QueuedResource | None,
    params: dict[str, Any],
    reason: str,
    now: datetime,
    seen: tuple[str, datetime | None] | None = None,
) -> Approval:
    seen_state = node.state.value if node else (queued.state.value if queued else "")
    seen_created = node.create_time if node else (queued.create_time if queued else None)
    if seen is not None:
        seen_state, seen_created = seen
    return Approval(
        id=deps.new_id(),
        action=action,
        target=target,
        requester=actor.user,
        requester_channel=actor.channel,
        created_at=now,
        expires_at=now + timedelta(minutes=deps.config.approvals.ttl_minutes),
        reason=reason,
        params=params,
        node_state=seen_state,
        node_create_time=seen_created,
        node_version=node.tensorflow_version if node else "",
        request_id=deps.new_id(),
        channel=deps.config.channels.approvals,
    )


def queued_name(project: str, zone: str, queued_id: str) -> str:
    return ResourceName.of(project, zone, Kind.QUEUED_RESOURCE, queued_id).full
