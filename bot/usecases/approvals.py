"""Approve, deny and expire requests: compare-and-set in the store, so each request acts once."""

from __future__ import annotations

from datetime import datetime

from bot.core import messages as m
from bot.core import policy
from bot.core.messages import Tone
from bot.core.records import Approval, ApprovalStatus, TrackedOperation
from bot.usecases.actions import execute, start_thread
from bot.usecases.context import Actor, Deps, log
from bot.usecases.ports import ChatError, NotFound, TpuError


def _show(deps: Deps, approval: Approval) -> None:
    """Redraw the request message to match its state (buttons only while pending)."""
    if approval.channel and approval.message_ts:
        deps.chat.update(
            approval.channel,
            approval.message_ts,
            m.ApprovalRequest(approval, deps.config.approvals.ttl_minutes),
        )


def _tell_requester(deps: Deps, approval: Approval, text: str, tone: Tone) -> None:
    try:
        deps.chat.ephemeral(approval.requester_channel, approval.requester, m.Notice(text, tone))
    except ChatError as exc:
        log.warning("could not tell %s about %s: %s", approval.requester, approval.id, exc)


def _thread(deps: Deps, approval: Approval, message: m.Message) -> str | None:
    if not (approval.channel and approval.message_ts):
        return None
    return deps.chat.post(approval.channel, message, thread_ts=approval.message_ts)


def decide(deps: Deps, actor: Actor, approval_id: str, approve: bool, now: datetime) -> m.Message:
    approval = deps.store.get_approval(approval_id)
    verb = "approve" if approve else "deny"
    if approval is None:
        deps.audit(now, actor.user, verb, approval_id, "unknown request")
        return m.Notice("There is no such request.", Tone.ERROR)
    verdict = policy.can_decide(
        user=actor.user,
        role=actor.role,
        requester=approval.requester,
        status=approval.status.value,
        expires_at=approval.expires_at,
        now=now,
    )
    if not verdict:
        deps.audit(now, actor.user, verb, approval.target, "refused", verdict.reason)
        return m.Refusal(verdict.reason)
    target = ApprovalStatus.APPROVED if approve else ApprovalStatus.DENIED
    won = deps.store.transition_approval(
        approval_id,
        from_status=ApprovalStatus.PENDING,
        to_status=target,
        now=now,
        user=actor.user,
        unexpired=True,
    )
    if won is None:
        # Another approver (or a double click) got there first: nothing more to do.
        current = deps.store.get_approval(approval_id)
        state = current.status.value if current else "gone"
        deps.audit(now, actor.user, verb, approval.target, "too late", state)
        return m.Notice(f"This request is already {state}.", Tone.WARNING)
    deps.audit(now, actor.user, verb, won.target, target.value)
    _show(deps, won)
    if not approve:
        _thread(deps, won, m.Notice(f"Denied by <@{actor.user}>.", Tone.WARNING))
        _tell_requester(
            deps,
            won,
            f"<@{actor.user}> denied your request to {won.action} `{won.target}`.",
            Tone.WARNING,
        )
        return m.Notice("Denied.", Tone.SUCCESS)
    return _carry_out(deps, won, now)


def _carry_out(deps: Deps, approval: Approval, now: datetime) -> m.Message:
    """Re-read the node, refuse if it changed in a way that matters, else run the action."""
    try:
        current = deps.tpu.get_node(approval.target)
    except NotFound:
        current = None
    seen = None
    if approval.node_state:
        seen = policy.Seen(approval.node_state, approval.node_create_time, approval.node_version)
    verdict = policy.recheck(approval.action, seen, current)
    if not verdict:
        return _end(deps, approval, ApprovalStatus.REFUSED, verdict.reason, now)
    try:
        operation = execute(
            deps, approval.action, approval.target, dict(approval.params), approval.request_id
        )
    except TpuError as exc:
        return _end(deps, approval, ApprovalStatus.FAILED, f"{exc.status}: {exc.message}", now)
    started = m.OperationStarted(
        approval.action,
        approval.target,
        operation.name,
        approval.requester,
        approved_by=approval.decided_by,
    )
    channel, thread = start_thread(deps, approval.channel, started, thread_ts=approval.message_ts)
    deps.store.add_operation(
        TrackedOperation(
            name=operation.name,
            target=approval.target,
            verb=approval.action,
            requester=approval.requester,
            channel=channel,
            thread_ts=thread,
            created_at=now,
            approval_id=approval.id,
        )
    )
    done = deps.store.transition_approval(
        approval.id,
        from_status=ApprovalStatus.APPROVED,
        to_status=ApprovalStatus.EXECUTED,
        now=now,
        operation=operation.name,
    )
    deps.audit(
        now, approval.decided_by, approval.action, approval.target, "started", operation.name
    )
    if done is not None:
        _show(deps, done)
    _tell_requester(
        deps,
        approval,
        f"<@{approval.decided_by}> approved your request to "
        f"{approval.action} `{approval.target}`; it has started.",
        Tone.SUCCESS,
    )
    return m.Notice("Approved; the action has started.", Tone.SUCCESS)


def _end(
    deps: Deps, approval: Approval, status: ApprovalStatus, why: str, now: datetime
) -> m.Message:
    ended = deps.store.transition_approval(
        approval.id, from_status=ApprovalStatus.APPROVED, to_status=status, now=now, outcome=why
    )
    deps.audit(now, approval.decided_by, approval.action, approval.target, status.value, why)
    if ended is not None:
        _show(deps, ended)
    _thread(deps, approval, m.Notice(f"Not run: {why}", Tone.ERROR))
    _tell_requester(
        deps,
        approval,
        f"Your request to {approval.action} `{approval.target}` was approved but not run: {why}",
        Tone.ERROR,
    )
    return m.Notice(f"Approved, but not run: {why}", Tone.ERROR)


def expire(deps: Deps, now: datetime) -> int:
    """Close every pending request past its TTL; how many were closed."""
    closed = 0
    for approval in deps.store.expired_approvals(now):
        ended = deps.store.transition_approval(
            approval.id,
            from_status=ApprovalStatus.PENDING,
            to_status=ApprovalStatus.EXPIRED,
            now=now,
        )
        if ended is None:
            continue
        closed += 1
        deps.audit(now, "-", f"expire {approval.action}", approval.target, "expired")
        _show(deps, ended)
        _tell_requester(
            deps,
            ended,
            f"Your request to {approval.action} `{approval.target}` "
            "expired before an approver decided.",
            Tone.WARNING,
        )
    return closed
