"""Follow the operations the bot started to their end, and tell their story in their thread.

Like all scheduled work, the messages go through the outbox, written in the same transaction as the
operation's new state: a crash loses neither, and Slack being down only delays them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot import messages as m
from bot.service.core import Deps, log
from bot.tpu import NotFound, TpuError


def track(deps: Deps, now: datetime) -> int:
    """One pass over open operations; how many ended."""
    ended = 0
    warn_after = timedelta(minutes=deps.config.watch.operation_warn_minutes)
    for tracked in deps.store.open_operations():
        try:
            current = deps.tpu.get_operation(tracked.name)
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
                    deps.outbox.post(
                        conn, tracked.channel, warning, now=now, thread_ts=tracked.thread_ts
                    )
            continue
        if current is None:
            code, message = 5, "the operation is no longer known to the API"
        elif current.error is not None:
            code, message = current.error.code, current.error.message
        else:
            code, message = None, ""
        final = replace(tracked, done=True, error_code=code, error_message=message, ended_at=now)
        update = m.OperationUpdate(final, current)
        with deps.watch.begin() as conn:
            if not deps.store.finish_operation(
                tracked.name, ended_at=now, error_code=code, error_message=message, conn=conn
            ):
                continue  # finished by someone else
            deps.outbox.post(conn, tracked.channel, update, now=now, thread_ts=tracked.thread_ts)
            if tracked.message_ts:
                deps.outbox.update(
                    conn, tracked.channel, update, now=now, target_ts=tracked.message_ts
                )
        ended += 1
        outcome = "done" if code is None else f"failed {code}"
        deps.audit(now, tracked.requester, tracked.verb, tracked.target, outcome, message)
    return ended
