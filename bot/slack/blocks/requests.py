"""Approval requests and the operations the bot starts, told in their threads."""

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    HeaderBlock,
)

from bot.core import messages as m
from bot.core.names import ResourceName, zone_of
from bot.core.records import ApprovalStatus
from bot.core.request_fields import fields_of
from bot.slack.actions import ActionId
from bot.slack.blocks.kit import (
    MAX_BLOCKS,
    MAX_HEADER,
    Rendered,
    _button,
    _context,
    _message,
    _plain,
    _section,
    _sections,
    channel,
    esc,
    ref_text,
    render,
    user,
    when,
)

_ACTION_VERBS = {
    "stop": "Stop",
    "start": "Start",
    "reimage": "Reimage",
    "delete": "Delete",
    "create": "Create",
    "recreate": "Recreate",
    "label": "Label",
    "queue-create": "Create queued resource",
    "queue-delete": "Delete queued resource",
    "queue-reset": "Reset queued resource",
    "requeue": "Delete & requeue",
    "report-faulty": "Report host as faulty",
    "maintenance": "Start maintenance",
    "queue-cancel": "Cancel flex-start request",
}
# What the request's target is, by its collection (for "instance was RUNNING when asked").
_THINGS = {
    "instances": "instance",
    "resizeRequests": "request",
    "queuedResources": "request",
    "reservationSubBlocks": "sub-block",
}
_QUEUED_VERBS = ("queue-create", "queue-delete", "queue-reset")


def _queued_text(action: str, params: Any) -> str:
    """What a queued-resource request asks for, from its stored params."""
    if action == "queue-delete" and params.get("force"):
        return " with its nodes (force)"
    request = params.get("request")
    if not request or not request.get("nodeSpecs"):
        return ""
    spec = request["nodeSpecs"][0]
    shape = spec.get("acceleratorType") or (spec.get("acceleratorConfig") or {}).get("type", "?")
    text = f" ({esc(shape)}, runtime {esc(spec.get('runtimeVersion') or '?')}"
    if spec.get("multisliceCount"):
        text += f", multislice of {spec['multisliceCount']}"
    if request.get("spot"):
        text += ", spot"
    if request.get("validUntilSeconds"):
        text += f", valid for {int(request['validUntilSeconds']) // 3600}h"
    return text + ")"


def _action_text(action: str, target: str, params: Any) -> str:
    verb = _ACTION_VERBS.get(action, action)
    text = f"*{verb}* `{esc(ref_text(target))}`"
    if action in (*_QUEUED_VERBS, "requeue"):
        return text + _queued_text(action, params)
    if action == "label":
        labels = params.get("labels") or (params.get("request") or {}).get("labels") or {}
        pairs = ", ".join(f"{esc(k)}={esc(v)}" for k, v in sorted(labels.items()))
        return text + f" to `{pairs or 'no labels'}`"
    if action == "report-faulty":
        reasons = (params.get("request") or {}).get("faultReasons") or [{}]
        return text + f": {esc(str(reasons[0].get('description', '')))}"
    if action == "recreate" and params.get("runtime"):
        return text + f" on runtime `{esc(str(params['runtime']))}`"
    if action == "reimage":
        text += f" to TensorFlow `{esc(str(params.get('version', '?')))}`"
    if action in ("create", "recreate") and params.get("spec"):
        spec = params["spec"]
        text += (
            f" ({esc(spec.get('acceleratorType', '?'))}, TF "
            f"{esc(spec.get('tensorflowVersion', '?'))}"
            f"{', preemptible' if (spec.get('schedulingConfig') or {}).get('preemptible') else ''})"
        )
    return text


# The card's room for the fields it will send (header, summary, expiry and buttons besides).
_FIELD_BLOCKS = MAX_BLOCKS - 6


def _sent_fields(params: Any) -> list[Block]:
    """Every field the action will send, one line each: the approver sees all of it."""
    fields = fields_of(params)
    if not fields:
        return []
    lines = ["*It will send:*"] + [f"• `{esc(path)}`: `{esc(value)}`" for path, value in fields]
    return _sections(lines, room=_FIELD_BLOCKS)


@render.register
def _(message: m.ApprovalRequest) -> Rendered:
    a = message.approval
    action = _action_text(a.action, a.target, a.params)
    name = ResourceName.find(a.target)
    thing = _THINGS.get(name.kind if name else "", "node")
    if a.action in _QUEUED_VERBS:
        thing = "request"
    state = f"{thing} was *{esc(a.node_state)}* when asked" if a.node_state else f"new {thing}"
    lines = [f"{user(a.requester)} asks to {action}", f"{state}"]
    if a.reason:
        lines.append(f"> {esc(a.reason)}")
    blocks: list[Block] = [
        HeaderBlock(text=_plain(f"Approval needed: {a.action}", MAX_HEADER)),
        _section("\n".join(lines)),
        *_sent_fields(a.params),
    ]
    if a.status is ApprovalStatus.PENDING:
        blocks.append(_context(f"Expires {when(a.expires_at)}. Approvers only; not the requester."))
        blocks.append(
            ActionsBlock(
                block_id=f"approval:{a.id}",
                elements=[
                    _button("Approve", ActionId.APPROVE, f"approve {a.id}", style="primary"),
                    _button("Deny", ActionId.DENY, f"deny {a.id}", style="danger"),
                ],
            )
        )
        fallback = f"Approval needed: {a.action} {ref_text(a.target)}"
    else:
        outcome = {
            ApprovalStatus.APPROVED: f":hourglass: Approved by {user(a.decided_by)}; running…",
            ApprovalStatus.EXECUTED: f":white_check_mark: Approved by {user(a.decided_by)}; "
            "started.",
            ApprovalStatus.DENIED: f":no_entry_sign: Denied by {user(a.decided_by)}.",
            ApprovalStatus.EXPIRED: ":alarm_clock: Expired: nobody decided in time.",
            ApprovalStatus.REFUSED: f":warning: Approved by {user(a.decided_by)}, "
            f"but not run: the {thing} changed.",
            ApprovalStatus.FAILED: f":x: Approved by {user(a.decided_by)}, but the API refused.",
        }[a.status]
        if a.outcome:
            outcome += f" {esc(a.outcome)}"
        blocks.append(_section(outcome))
        fallback = f"{a.action} {ref_text(a.target)}: {a.status.value}"
    return _message(fallback, blocks)


@render.register
def _(message: m.ApprovalQueued) -> Rendered:
    a = message.approval
    text = (
        f":hourglass_flowing_sand: {_action_text(a.action, a.target, a.params)} needs an "
        f"approver; asked in {channel(message.approvals_channel)}. You will hear back here."
    )
    return _message(text, [_section(text)])


@render.register
def _(message: m.OperationStarted) -> Rendered:
    verb = _ACTION_VERBS.get(message.verb, message.verb)
    by = f" (approved by {user(message.approved_by)})" if message.approved_by else ""
    text = (
        f":gear: {verb} of `{esc(ref_text(message.target))}` started by "
        f"{user(message.requester)}{by}."
    )
    return _message(text, [_section(text), _context(f"Operation `{esc(message.operation)}`")])


@render.register
def _(message: m.OperationUpdate) -> Rendered:
    op = message.tracked
    verb = _ACTION_VERBS.get(op.verb, op.verb)
    target = f"`{esc(ref_text(op.target))}`"
    if message.warning:
        text = f":hourglass: {verb} of {target} is still running: {esc(message.warning)}"
    elif not op.done:
        text = f":gear: {verb} of {target} is running."
    elif op.error_code is None and op.verb == "recreate":
        text = (
            f":white_check_mark: Recreate of {target}: the old node is deleted; creating it again."
        )
    elif op.error_code is None and op.verb == "requeue":
        text = f":white_check_mark: {target} is deleted; queuing the same request again."
    elif op.error_code is None:
        state = ""
        if message.operation is not None and message.operation.node is not None:
            state = f": node is {message.operation.node.state.value}"
        text = f":white_check_mark: {verb} of {target} finished{state}."
    else:
        advice = None
        if op.error_code == m.RESOURCE_EXHAUSTED:
            advice = m.capacity_advice(op.error_message, zone_of(op.target))
        if advice is not None:
            text = f":x: {verb} of {target} failed: {esc(advice)}."
        else:
            text = f":x: {verb} of {target} failed: {esc(op.error_message)} (code {op.error_code})."
    return _message(text, [_section(text)])
