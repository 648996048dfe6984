"""Follow the operations the bot started to their end, and tell their story in their thread.

Like all scheduled work, the messages go through the outbox, written in the same transaction as the
operation's new state: a crash loses neither, and Slack being down only delays them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.core import messages as m
from bot.core.commands import Verb
from bot.core.names import ResourceName
from bot.core.operations import Operation
from bot.core.records import TrackedOperation
from bot.usecases.context import Deps, log
from bot.usecases.ports import NotFound, TpuError
from bot.usecases.queued import requeue_target
from bot.usecases.requests import (
    create_from_spec,
    create_queued,
    earlier_operation,
    second_step_key,
)


def track(deps: Deps, now: datetime) -> int:
    """One pass over open operations; how many ended."""
    ended = 0
    warn_after = timedelta(minutes=deps.config.watch.operation_warn_minutes)
    for tracked in deps.store.open_operations():
        try:
            current = _operation(deps, tracked.name)
        except NotFound:
            current = None
        except TpuError as exc:
            log.warning("operation %s not readable now: %s", tracked.name, exc)
            continue
        if current is not None and not current.done:
            if not tracked.warned and now - tracked.created_at >= warn_after:
                minutes = int((now - tracked.created_at).total_seconds() // 60)
                warning = m.OperationUpdate(tracked, current, warning=f"{minutes} minutes so far")
                with deps.watch.begin() as conn:
                    deps.store.update_operation(tracked.name, conn=conn, warned=True)
                    _reply(deps, conn, tracked, warning, now)
            continue
        if current is None:
            code, message = 5, "the operation is no longer known to the API"
        elif current.error is not None:
            code, message = current.error.code, current.error.message
        else:
            code, message = None, ""
        follow_up = None
        if tracked.verb in (Verb.RECREATE, Verb.REQUEUE) and code is None:
            follow_up = _create_after_delete(deps, tracked, now)
            if follow_up is None:
                continue  # the create could not be started now; try again next pass
        final = replace(tracked, done=True, error_code=code, error_message=message, ended_at=now)
        update = m.OperationUpdate(final, current)
        with deps.watch.begin() as conn:
            if follow_up is not None and deps.store.get_operation(follow_up.name) is None:
                deps.store.add_operation(follow_up, conn=conn)
                started = m.OperationStarted(
                    follow_up.verb, follow_up.target, follow_up.name, tracked.requester
                )
                _reply(deps, conn, tracked, started, now)
            if not deps.store.finish_operation(
                tracked.name, ended_at=now, error_code=code, error_message=message, conn=conn
            ):
                continue  # finished by someone else
            _reply(deps, conn, tracked, update, now)
            if tracked.message.known:
                deps.outbox.update(conn, tracked.message, update, now=now)
        ended += 1
        outcome = "done" if code is None else f"failed {code}"
        deps.audit(now, tracked.requester, tracked.verb, tracked.target, outcome, message)
    return ended


def _operation(deps: Deps, name: str) -> Operation:
    """An operation, from the API that started it (a `zones/` one is Compute Engine's)."""
    if ResourceName.parse(name).in_zones and deps.compute is not None:
        return deps.compute.get_operation(name)
    return deps.tpu.get_operation(name)


def _create_after_delete(
    deps: Deps, tracked: TrackedOperation, now: datetime
) -> TrackedOperation | None:
    """The second half of a recreate (the node again) or a requeue (the queued request again).
    Its requestId is derived from the approval's, so a retry after a crash gets the same
    operation back instead of a second node or request."""
    params, first_request_id = _first_step(deps, tracked)
    key = "request" if tracked.verb == Verb.REQUEUE else "spec"
    if key not in params:
        log.error("%s %s: no spec to create from", tracked.verb, tracked.name)
        return None
    request_id = f"{first_request_id}-create"
    body = dict(params[key])
    try:
        if tracked.verb == Verb.REQUEUE and ResourceName.parse(tracked.target).in_zones:
            # A flex-start request: the same hosts asked for again, under the same name.
            target, verb = tracked.target, Verb.QUEUE_CREATE
            assert deps.compute is not None
            operation = deps.compute.create_flex_request(target, body, request_id)
        elif tracked.verb == Verb.REQUEUE:
            target, verb = requeue_target(tracked.target), Verb.QUEUE_CREATE
            operation = create_queued(deps, target, body, request_id)
        else:
            target, verb = tracked.target, Verb.CREATE
            operation = create_from_spec(deps, target, body, request_id)
    except TpuError as exc:
        # v2 node creates take no requestId: a lost answer, retried, meets its own node (as
        # ALREADY_EXISTS, or its address in use). Adopt the create that made it since the
        # delete started, if there is one.
        adopted = None
        if not exc.retryable:
            adopted = earlier_operation(deps, target, "create", tracked.created_at)
        if adopted is None:
            log.warning("%s %s: create not started: %s", tracked.verb, target, exc.message)
            return None
        operation = adopted
    return TrackedOperation(
        name=operation.name,
        target=target,
        verb=verb,
        requester=tracked.requester,
        channel=tracked.channel,
        thread_ts=tracked.thread_ts,
        thread_outbox=tracked.thread_outbox,
        created_at=now,
        approval_id=tracked.approval_id,
    )


def _first_step(deps: Deps, tracked: TrackedOperation) -> tuple[dict[str, Any], str]:
    """The params and requestId of a two-step action: its approval's, or (run without one)
    what `actions.run_now` kept beside its operation."""
    approval = deps.store.get_approval(tracked.approval_id) if tracked.approval_id else None
    if approval is not None:
        return dict(approval.params), approval.request_id
    kept = deps.watch.get(second_step_key(tracked.name), "")
    if not kept:
        return {}, ""
    second = json.loads(kept)
    return dict(second["params"]), str(second["request_id"])


def _reply(
    deps: Deps, conn: Any, tracked: TrackedOperation, message: m.Message, now: datetime
) -> None:
    """A message in the operation's thread (whose root may still be waiting in the outbox)."""
    deps.outbox.post(conn, tracked.channel, message, now=now, thread=tracked.thread)
