"""Mutations: check, then run now or ask an approver; the one place that calls the API for them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy
from bot.core.messages import Tone
from bot.core.models import Node, NodeName, NodeSpec, Operation
from bot.core.records import Approval, TrackedOperation
from bot.usecases.context import Actor, Deps, log
from bot.usecases.ports import ChatError, NotFound


def execute(
    deps: Deps, action: str, target: str, params: dict[str, Any], request_id: str
) -> Operation:
    """The API call behind an action. create/delete carry `request_id`, reused on every retry."""
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


def create_from_spec(deps: Deps, target: str, spec: dict[str, Any], request_id: str) -> Operation:
    name = NodeName.parse(target)
    return deps.tpu.create_node(
        name.project,
        name.zone,
        name.node_id,
        NodeSpec(
            accelerator_type=spec["acceleratorType"],
            tensorflow_version=spec["tensorflowVersion"],
            cidr_block=spec.get("cidrBlock", ""),
            network=spec.get("network", ""),
            description=spec.get("description", ""),
            preemptible=bool((spec.get("schedulingConfig") or {}).get("preemptible")),
            labels=spec.get("labels") or {},
        ),
        request_id=request_id,
    )


def start_thread(
    deps: Deps, channel: str, started: m.OperationStarted, thread_ts: str | None = None
) -> tuple[str, str]:
    """Post the operation's first message; (channel, ts) of the thread it lives in."""
    try:
        ts = deps.chat.post(channel, started, thread_ts=thread_ts)
        return channel, thread_ts or ts
    except ChatError as exc:
        # The bot may not be in the requester's channel: the alerts channel always works.
        log.warning("cannot post to %s (%s); using the alerts channel", channel, exc)
        fallback = deps.config.channels.alerts
        return fallback, deps.chat.post(fallback, started)


def run_now(
    deps: Deps, actor: Actor, action: str, target: str, params: dict[str, Any], now: datetime
) -> m.Message | None:
    operation = execute(deps, action, target, params, deps.new_id())
    started = m.OperationStarted(action, target, operation.name, actor.user)
    channel, ts = start_thread(deps, actor.channel, started)
    deps.store.add_operation(
        TrackedOperation(
            name=operation.name,
            target=target,
            verb=action,
            requester=actor.user,
            channel=channel,
            thread_ts=ts,
            message_ts=ts,
            created_at=now,
        )
    )
    deps.audit(now, actor.user, action, target, "started", operation.name)
    if channel != actor.channel:
        return m.Notice(f"Started; follow it in <#{channel}>.", Tone.SUCCESS)
    return None


def request(
    deps: Deps,
    actor: Actor,
    action: str,
    target: str,
    node: Node | None,
    params: dict[str, Any],
    reason: str,
    now: datetime,
) -> m.Message | None:
    """Run the action, or file an approval request when the policy says so."""
    if not policy.needs_approval(action, deps.config.approvals):
        return run_now(deps, actor, action, target, params, now)
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
        node_state=node.state.value if node else "",
        node_create_time=node.create_time if node else None,
        node_version=node.tensorflow_version if node else "",
        request_id=deps.new_id(),
    )
    deps.store.add_approval(approval)
    ttl = deps.config.approvals.ttl_minutes
    ts = deps.chat.post(approvals_channel, m.ApprovalRequest(approval, ttl))
    deps.store.set_approval_message(approval.id, approvals_channel, ts)
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
    if project not in managed:
        return m.Notice(f"`{project}` is not a project this bot manages.", Tone.ERROR)
    locations = managed[project].locations
    if "-" not in locations and command.zone not in locations:
        return m.Notice(f"The bot does not manage {command.zone} in {project}.", Tone.ERROR)
    target = NodeName(project, command.zone, command.node_id).full
    try:
        deps.tpu.get_node(target)
    except NotFound:
        pass
    else:
        return m.Notice(f"`{project}/{command.zone}/{command.node_id}` already exists.", Tone.ERROR)
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
