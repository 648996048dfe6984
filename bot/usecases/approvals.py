"""Approve, deny, expire, carry out and resume requests, so that each ends in an outcome people
are told, whatever fails in between.

The state machine is in the store (`ApprovalStatus`): pending -> approved -> executing ->
executed | failed | refused, and pending -> denied | expired, each step a compare-and-set. Every
message about a request goes through the durable outbox, in the transaction of the step that
causes it: a Slack outage delays them and loses none. A TPU API failure is retried with backoff
for a bounded time; a crash or failover is resumed by the leader's `resume` job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy, scope
from bot.core.messages import Tone
from bot.core.names import ResourceName, zone_of
from bot.core.operations import Operation
from bot.core.records import Approval, ApprovalStatus, TrackedOperation
from bot.core.text import Said, User, say
from bot.usecases import queued
from bot.usecases.approval_notes import redraw, reply, tell_requester, what
from bot.usecases.context import Actor, Deps, log
from bot.usecases.instances import zonal_recheck
from bot.usecases.ports import NotFound, TpuError
from bot.usecases.registry import Outcome, handles
from bot.usecases.requests import api_verb, earlier_operation, execute


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(120, 15 * 2 ** max(0, attempts - 1)))


# ----- decide ---------------------------------------------------------------------------------


@handles(cmd.Decide)
def decide(deps: Deps, actor: Actor, command: cmd.Decide, now: datetime) -> Outcome:
    """Approve or deny a pending request; an approval is carried out at once."""
    approve, approval_id = command.approve, command.approval_id
    approval = deps.store.get_approval(approval_id)
    verb = "approve" if approve else "deny"
    if approval is None:
        answer = m.Notice("There is no such request.", Tone.ERROR)
        return Outcome(answer, "unknown request", approval_id, action=verb)
    verdict = policy.can_decide(
        user=actor.user,
        role=actor.role,
        requester=approval.requester,
        status=approval.status.value,
        expires_at=approval.expires_at,
        now=now,
    )
    if not verdict:
        return Outcome(m.Refusal(verdict.reason), "refused", approval.target, verdict.reason, verb)
    to_status = ApprovalStatus.APPROVED if approve else ApprovalStatus.DENIED
    with deps.watch.begin() as conn:
        won = deps.store.transition_approval(
            approval_id,
            from_status=ApprovalStatus.PENDING,
            to_status=to_status,
            now=now,
            user=actor.user,
            unexpired=True,
            next_attempt_at=now,
            conn=conn,
        )
        if won is not None:
            redraw(deps, conn, won, now)
            if not approve:
                denied = m.Notice(say("Denied by ", User(actor.user), "."), Tone.WARNING)
                reply(deps, conn, won, denied, now)
                text = say(User(actor.user), " denied your request to ", what(won), ".")
                tell_requester(deps, conn, won, text, Tone.WARNING, now)
    if won is None:
        # Another approver (or a double click) got there first: nothing more to do.
        current = deps.store.get_approval(approval_id)
        state = current.status.value if current else "gone"
        answer = m.Notice(f"This request is already {state}.", Tone.WARNING)
        return Outcome(answer, "too late", approval.target, state, verb)
    if not approve:
        return Outcome(m.Notice("Denied.", Tone.SUCCESS), to_status.value, won.target, action=verb)
    # The decision is audited first; carrying it out then audits what the API did, as it does
    # when the leader's job resumes a request.
    return Outcome(
        None, to_status.value, won.target, action=verb, then=lambda: carry_out(deps, won, now)
    )


# ----- carry out ------------------------------------------------------------------------------


def carry_out(deps: Deps, approval: Approval, now: datetime) -> m.Message:
    """Claim an approved request and run it once; the approver's answer says what happened."""
    claimed = deps.store.transition_approval(
        approval.id,
        from_status=ApprovalStatus.APPROVED,
        to_status=ApprovalStatus.EXECUTING,
        now=now,
        attempt_at=now,
        attempts=approval.attempts + 1,
        attempt_owner=deps.liveness.me(),
    )
    if claimed is None:
        return m.Notice("Approved; it is being carried out.", Tone.SUCCESS)
    try:
        return _attempt(deps, claimed, now)
    except TpuError as exc:
        advice = m.capacity_advice(exc.message, zone_of(claimed.target))
        if exc.status == "RESOURCE_EXHAUSTED" and advice is not None:
            # Out of capacity or quota: trying again in a minute will not help; say what will.
            return _end(deps, claimed, ApprovalStatus.FAILED, advice, now)
        if exc.retryable:
            return _retry_later(deps, claimed, exc, now)
        # A lost response retried by the client meets its own operation ("an operation is in
        # progress"): the action did happen, once. Adopt it rather than call it failed.
        earlier = None
        if exc.status == "FAILED_PRECONDITION":
            try:
                earlier = _earlier_operation(deps, claimed)
            except TpuError as lookup:
                # Unknown whether it ran: retry (the next attempt looks for the operation again).
                if lookup.retryable:
                    return _retry_later(deps, claimed, lookup, now)
        if earlier is not None:
            return _executed(deps, claimed, earlier, now)
        return _end(deps, claimed, ApprovalStatus.FAILED, f"{exc.status}: {exc.message}", now)


def _attempt(deps: Deps, approval: Approval, now: datetime) -> m.Message:
    if approval.attempts > 1:
        # An earlier attempt may have reached the API before it was cut off: adopt its
        # operation instead of calling again (create and delete also carry the same requestId).
        earlier = _earlier_operation(deps, approval)
        if earlier is not None:
            return _executed(deps, approval, earlier, now)
    out_of_scope = scope.problem(*_project_zone(approval.target), deps.scopes)
    if out_of_scope is not None:
        # The configuration changed since the request: the bot no longer acts there.
        why = say(out_of_scope, " The configuration changed since the request.")
        return _end(deps, approval, ApprovalStatus.REFUSED, why, now)
    verdict = _recheck(deps, approval)
    if not verdict:
        return _end(deps, approval, ApprovalStatus.REFUSED, verdict.reason, now)
    params = dict(approval.params)
    operation = execute(deps, approval.action, approval.target, params, approval.request_id)
    return _executed(deps, approval, operation, now)


def _project_zone(target: str) -> tuple[str | None, str | None]:
    try:
        name = ResourceName.parse(target)
    except ValueError:
        return None, None
    return name.project, name.zone


def _recheck(deps: Deps, approval: Approval) -> policy.Verdict:
    """Is the node (or queued resource, instance, flex-start request, sub-block) still as the
    requester saw it?"""
    verb = cmd.Verb(approval.action)
    if ResourceName.parse(approval.target).in_zones:
        return zonal_recheck(deps, approval)
    if verb.on_queued_resource or ResourceName.parse(approval.target).is_queued_resource:
        return queued.recheck(deps, approval)
    try:
        current = deps.tpu.get_node(approval.target)
    except NotFound:
        current = None
    seen = None
    if approval.node_state:
        seen = policy.Seen(approval.node_state, approval.node_create_time, approval.node_version)
    runtime = "runtime" in approval.params
    action = cmd.Verb.RECREATE if verb is cmd.Verb.REQUEUE else verb
    return policy.recheck(action, seen, current, runtime=runtime)


def _earlier_operation(deps: Deps, approval: Approval) -> Operation | None:
    verb = api_verb(approval.action, approval.target)
    since = approval.decided_at or approval.created_at
    return earlier_operation(
        deps, approval.target, verb, since, lambda op: _not_anothers(deps, approval, op)
    )


def _not_anothers(deps: Deps, approval: Approval, operation: Operation) -> bool:
    """An operation the bot already tracks for another request (or a run without approval) was
    not this request's: adopting it would report one stop as two requests carried out."""
    tracked = deps.store.get_operation(operation.name)
    return tracked is None or tracked.approval_id == approval.id


def _executed(deps: Deps, approval: Approval, operation: Operation, now: datetime) -> m.Message:
    started = m.OperationStarted(
        approval.action,
        approval.target,
        operation.name,
        approval.requester,
        approved_by=approval.decided_by,
    )
    with deps.watch.begin() as conn:
        done = deps.store.transition_approval(
            approval.id,
            from_status=ApprovalStatus.EXECUTING,
            to_status=ApprovalStatus.EXECUTED,
            now=now,
            operation=operation.name,
            expect_attempt_at=approval.attempt_at,
            conn=conn,
        )
        if done is None:
            return m.Notice("Approved; it was carried out already.", Tone.SUCCESS)
        if deps.store.get_operation(operation.name, conn=conn) is None:
            deps.store.add_operation(_tracked(deps, approval, operation, now), conn=conn)
        reply(deps, conn, done, started, now)
        redraw(deps, conn, done, now)
        text = say(
            User(approval.decided_by),
            " approved your request to ",
            what(approval),
            "; it has started.",
        )
        tell_requester(deps, conn, done, text, Tone.SUCCESS, now)
    deps.audit(
        now, approval.decided_by, approval.action, approval.target, "started", operation.name
    )
    return m.Notice("Approved; the action has started.", Tone.SUCCESS)


def _tracked(
    deps: Deps, approval: Approval, operation: Operation, now: datetime
) -> TrackedOperation:
    return TrackedOperation(
        name=operation.name,
        target=approval.target,
        verb=approval.action,
        requester=approval.requester,
        channel=approval.channel or deps.config.channels.approvals,
        thread_ts=approval.message_ts,
        thread_outbox=approval.root_outbox,
        created_at=now,
        approval_id=approval.id,
    )


def _retry_later(deps: Deps, approval: Approval, error: TpuError, now: datetime) -> m.Message:
    """The API failed in a way that may pass: try again later, up to the retry window."""
    window = timedelta(minutes=deps.config.approvals.retry_minutes)
    started = approval.decided_at or approval.created_at
    why = f"{error.status}: {error.message}"
    if now - started >= window:
        minutes = int(window.total_seconds() // 60)
        reason = f"the TPU API kept failing for {minutes} minutes ({why})"
        return _end(deps, approval, ApprovalStatus.FAILED, reason, now)
    with deps.watch.begin() as conn:
        back = deps.store.transition_approval(
            approval.id,
            from_status=ApprovalStatus.EXECUTING,
            to_status=ApprovalStatus.APPROVED,
            now=now,
            next_attempt_at=now + _backoff(approval.attempts),
            last_error=why[:2000],
            expect_attempt_at=approval.attempt_at,
            conn=conn,
        )
        if back is not None and approval.attempts == 1:
            note = m.Notice(
                f"The TPU API is not answering ({error.status}); the bot keeps trying for "
                f"{deps.config.approvals.retry_minutes} minutes and tells the outcome here.",
                Tone.WARNING,
            )
            reply(deps, conn, back, note, now)
    log.warning("approval %s: %s; retrying", approval.id, why)
    deps.audit(now, approval.decided_by, approval.action, approval.target, "retrying", why)
    return m.Notice(
        "Approved, but the TPU API is not answering right now; the bot keeps trying and tells "
        "the outcome in the request's thread.",
        Tone.WARNING,
    )


def _end(
    deps: Deps, approval: Approval, status: ApprovalStatus, why: Said, now: datetime
) -> m.Message:
    with deps.watch.begin() as conn:
        ended = deps.store.transition_approval(
            approval.id,
            from_status=ApprovalStatus.EXECUTING,
            to_status=status,
            now=now,
            outcome=str(why)[:2000],
            expect_attempt_at=approval.attempt_at,
            conn=conn,
        )
        if ended is None:
            return m.Notice("This request was finished by someone else.", Tone.WARNING)
        redraw(deps, conn, ended, now)
        reply(deps, conn, ended, m.Notice(say("Not run: ", why), Tone.ERROR), now)
        text = say("Your request to ", what(approval), " was approved but not run: ", why)
        tell_requester(deps, conn, ended, text, Tone.ERROR, now)
    deps.audit(now, approval.decided_by, approval.action, approval.target, status.value, why)
    return m.Notice(say("Approved, but not run: ", why), Tone.ERROR)


# ----- scheduled: expire and resume -----------------------------------------------------------


def expire(deps: Deps, now: datetime) -> int:
    """Close every pending request past its TTL; how many were closed."""
    closed = 0
    for approval in deps.store.expired_approvals(now):
        with deps.watch.begin() as conn:
            ended = deps.store.transition_approval(
                approval.id,
                from_status=ApprovalStatus.PENDING,
                to_status=ApprovalStatus.EXPIRED,
                now=now,
                conn=conn,
            )
            if ended is None:
                continue
            redraw(deps, conn, ended, now)
            text = say("Your request to ", what(approval), " expired before an approver decided.")
            tell_requester(deps, conn, ended, text, Tone.WARNING, now)
        closed += 1
        deps.audit(now, "-", f"expire {approval.action}", approval.target, "expired")
    return closed


def resume(deps: Deps, now: datetime) -> int:
    """The leader's job: carry out approved requests that are due (a retry, or one whose approver's
    process died before claiming it), and take over attempts that were cut off: at once when the
    replica that claimed one is known dead (core.liveness), else after the attempt timeout."""
    finished = 0
    for approval in _to_resume(deps, now):
        if approval.status is ApprovalStatus.EXECUTING:
            taken = deps.store.transition_approval(
                approval.id,
                from_status=ApprovalStatus.EXECUTING,
                to_status=ApprovalStatus.APPROVED,
                now=now,
                expect_attempt_at=approval.attempt_at,
            )
            if taken is None:
                continue
            approval = taken
        carry_out(deps, approval, now)
        finished += 1
    return finished


def _to_resume(deps: Deps, now: datetime) -> list[Approval]:
    """Approved ones due, and attempts cut off: claimed by a replica known dead, or (the last
    resort) claimed longer ago than the timeout, which is longer than the TPU client's timeouts
    and retries, so a live attempt is spared."""
    stale = timedelta(seconds=deps.config.approvals.attempt_timeout_seconds)
    found = deps.store.approvals_to_resume(now, now - stale)
    seen = {a.id for a in found}
    for approval in found:
        if approval.status is ApprovalStatus.EXECUTING:
            log.warning("approval %s: attempt from %s timed out", approval.id, approval.attempt_at)
    for approval in deps.store.executing_approvals():
        why = None if approval.id in seen else deps.liveness.why_dead(approval.attempt_owner, now)
        if why is not None:
            log.warning("approval %s: attempt cut off: %s; taking it over", approval.id, why)
            found.append(approval)
    return found
