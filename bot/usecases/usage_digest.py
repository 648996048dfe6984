"""The daily digest: at the configured local time, once a day across replicas, one per route:
idle chip-hours and their cost, busy chips over 7 days, requests waiting or failed, maintenance
ahead, incidents and actions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from bot.core.instances import FlexState
from bot.core.usage import (
    DAY,
    HOUR,
)
from bot.core.usage_digest import FleetEntry, busy_chips_by_period
from bot.core.usage_messages import (
    FleetNotes,
    UsageDigest,
)
from bot.core.usage_views import (
    usage_digest,
)
from bot.usecases import tpus
from bot.usecases.context import Deps
from bot.usecases.ports import TpuError
from bot.usecases.usage_fleet import Fleet, judge, maintenance_lines, prices, read_usage, router

DIGEST_KEY = "usage-digest:last"  # the local date of the last digest posted


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def digest(deps: Deps, now: datetime) -> int:
    """At the configured local time, once a day: one digest per route. How many were posted."""
    config = deps.config.usage
    if not config.digest:
        return 0
    local = now.astimezone(_zone(config.digest_timezone))
    hour, minute = (int(part) for part in config.digest_at.split(":"))
    if (local.hour, local.minute) < (hour, minute):
        return 0
    today = local.date().isoformat()
    if deps.watch.get(DIGEST_KEY) == today:
        return 0
    fleet = judge(deps, now, window=DAY, step=HOUR)
    week = _week(deps, now, fleet)
    route = router(deps)
    idle = deps.config.watch.idle
    by_channel: dict[str, list[FleetEntry]] = {}
    for entry in fleet.entries:
        by_channel.setdefault(route(entry.facts), []).append(entry)
    by_channel.setdefault(deps.config.channels.alerts, [])
    notes = _fleet_notes(deps, now, fleet)
    with deps.watch.begin() as conn:
        if deps.watch.get(DIGEST_KEY) == today:  # another replica's leader did, just now
            return 0
        for channel, entries in sorted(by_channel.items()):
            names = {e.facts.name for e in entries}
            busy = busy_chips_by_period(
                [e for e in week if e.facts.name in names], idle.threshold_percent
            )
            posted = usage_digest(
                entries, prices(deps), idle.threshold_percent, idle.minutes, now,
                busy, fleet.unknown, config.top_idle,
            )  # fmt: skip
            alerts = channel == deps.config.channels.alerts
            posted = _with_notes(posted, notes if alerts else None)
            deps.outbox.post(conn, channel, posted, now=now)
        deps.watch.put(conn, DIGEST_KEY, today)
    return len(by_channel)


def _with_notes(digest: UsageDigest, notes: FleetNotes | None) -> UsageDigest:
    return replace(digest, fleet=notes)


def _week(deps: Deps, now: datetime, fleet: Fleet) -> list[FleetEntry]:
    """The fleet's usage per day over the last 7 days (for the busy chips chart)."""
    entries: list[FleetEntry] = []
    for project, kinds in sorted(fleet.projects.items()):
        listing = read_usage(deps, project, 7 * DAY, now, DAY, kinds)
        for entry in fleet.entries:
            if entry.facts.key.project == project:
                entries.append(
                    FleetEntry(entry.facts, listing.usage_of(entry.facts.key), entry.verdict)
                )
    return entries


def _fleet_notes(deps: Deps, now: datetime, fleet: Fleet) -> FleetNotes:
    waiting, failed = _requests_waiting_failed(deps)
    opened = deps.watch.recent_opens(now - DAY)
    actions = [
        e for e in deps.store.latest_audit(1000) if e.outcome == "started" and e.at >= now - DAY
    ]
    return FleetNotes(
        queued_waiting=waiting,
        queued_failed=failed,
        maintenance=tuple(maintenance_lines(fleet.tpus.values(), now, 7 * DAY)),
        incidents_opened=sum(opened.values()),
        incidents_open=deps.watch.count_open(),
        actions=len(actions),
    )


def _requests_waiting_failed(deps: Deps) -> tuple[int, int]:
    """Capacity requests waiting or failed: queued resources and flex-start requests."""
    waiting = failed = 0
    for where in deps.tpu_scopes:
        try:
            queued = deps.tpu.list_queued_resources(where.project, where.locations)
        except TpuError:
            continue
        for resource in queued.queued_resources:
            waiting += resource.state.value in ("ACCEPTED", "WAITING_FOR_RESOURCES")
            failed += resource.state.value in ("FAILED", "SUSPENDED")
    for where in deps.compute_scopes:
        try:
            capacity = tpus.compute(deps).list_capacity(where.project, where.locations)
        except TpuError:
            continue
        for flex in capacity.flex:
            waiting += flex.state is FlexState.ACCEPTED
            failed += flex.state is FlexState.FAILED
    return waiting, failed
