"""Follow the operations the bot started to their end, and tell their story in their thread."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot import messages as m
from bot.service.core import ChatError, Deps, log
from bot.tpu import NotFound, TpuError


def track(deps: Deps, now: datetime) -> int:
    """One pass over open operations; how many ended. Slack first, then the store, so a failed
    post is tried again on the next pass rather than lost."""
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
        try:
            if current is not None and not current.done:
                if not tracked.warned and now - tracked.created_at >= warn_after:
                    minutes = int((now - tracked.created_at).total_seconds() // 60)
                    deps.chat.post(
                        tracked.channel,
                        m.OperationUpdate(tracked, current, warning=f"{minutes} minutes so far"),
                        thread_ts=tracked.thread_ts,
                    )
                    deps.store.update_operation(tracked.name, warned=True)
                continue
            if current is None:
                code, message = 5, "the operation is no longer known to the API"
            elif current.error is not None:
                code, message = current.error.code, current.error.message
            else:
                code, message = None, ""
            final = replace(
                tracked, done=True, error_code=code, error_message=message, ended_at=now
            )
            update = m.OperationUpdate(final, current)
            deps.chat.post(tracked.channel, update, thread_ts=tracked.thread_ts)
            if tracked.message_ts:
                deps.chat.update(tracked.channel, tracked.message_ts, update)
        except ChatError as exc:
            log.warning("operation %s: Slack refused the update, will retry: %s", tracked.name, exc)
            continue
        if (
            deps.store.finish_operation(
                tracked.name, ended_at=now, error_code=code, error_message=message
            )
            is not None
        ):
            ended += 1
            outcome = "done" if code is None else f"failed {code}"
            deps.audit(now, tracked.requester, tracked.verb, tracked.target, outcome, message)
    return ended
