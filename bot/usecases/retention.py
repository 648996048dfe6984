"""The leader's retention job: what is done and old is deleted, so the store does not grow
without end (sent outbox rows, audit entries, long listing queries kept for their buttons)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.usecases.context import Deps, log


def prune(deps: Deps, now: datetime) -> dict[str, int]:
    """Delete what is past its retention; how many rows went, by table."""
    keep = deps.config.retention
    pruned = {
        "outbox": deps.watch.prune_outbox(now - timedelta(days=keep.outbox_days)),
        "audit": deps.store.prune_audit(now - timedelta(days=keep.audit_days)),
        "listings": deps.carrier.prune(now - timedelta(days=keep.listing_days)),
    }
    if any(pruned.values()):
        log.info("retention: pruned %s", ", ".join(f"{n} {t}" for t, n in pruned.items()))
    return pruned
