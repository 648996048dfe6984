"""The fleet as usage sees it: every managed TPU (nodes and TPU VM instances), listed and
judged against Cloud Monitoring (a port: `deps.usage`) with its idle verdict; what the table,
the sweep, the digest, the Home tab and the cards share. Usage that cannot be read is unknown,
never idle."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core import policy, scope
from bot.core.commands import Verb
from bot.core.instances import Instance
from bot.core.models import ProjectScope
from bot.core.usage import (
    Metric,
    TpuFacts,
    TpuKind,
    TpuUsage,
    UsageListing,
    Verdict,
    facts_of_instance,
    facts_of_node,
    idle_verdict,
)
from bot.core.usage_cost import PriceTable, price_table
from bot.core.usage_digest import FleetEntry
from bot.core.usage_messages import (
    MaintenanceLine,
)
from bot.core.usage_views import (
    unknown_lines,
)
from bot.usecases import instances, tpus
from bot.usecases.context import Deps, log
from bot.usecases.ports import TpuError
from bot.usecases.tpus import Tpu

NOT_CONFIGURED = "Cloud Monitoring is not configured"


@dataclass
class Fleet:
    """The TPUs of the managed projects (nodes and TPU VM instances), judged: each with its
    facts, usage and verdict."""

    entries: list[FleetEntry]
    listings: list[UsageListing]
    tpus: dict[str, Tpu]
    # (project, kind) whose TPUs were listed: a failed listing concludes nothing of its TPUs
    listed: set[tuple[str, TpuKind]]

    @property
    def unknown(self) -> list[str]:
        return unknown_lines(self.listings)

    @property
    def projects(self) -> dict[str, set[TpuKind]]:
        found: dict[str, set[TpuKind]] = {}
        for project, kind in self.listed:
            found.setdefault(project, set()).add(kind)
        return found


def prices(deps: Deps) -> PriceTable:
    return price_table(deps.config.usage.prices, deps.config.usage.currency)


def facts_of(tpu: Tpu, kept_until: datetime | None = None) -> TpuFacts:
    """What the usage logic needs of a node or a TPU VM instance."""
    if not isinstance(tpu, Instance):
        return facts_of_node(tpu, kept_until=kept_until)
    return facts_of_instance(
        project=tpu.project,
        zone=tpu.zone,
        name=tpu.node_id,
        instance_id=tpu.uid,
        machine_type=tpu.machine_type,
        status=tpu.status.value,
        provisioning_model=tpu.provisioning.value,
        created=tpu.create_time,
        labels=tpu.labels,
        kept_until=kept_until,
        can_stop=bool(instances.precheck(Verb.STOP, tpu)),  # what /tpu stop would accept
    )


def kind_of(tpu: Tpu) -> TpuKind:
    return TpuKind.INSTANCE if isinstance(tpu, Instance) else TpuKind.NODE


def sources(deps: Deps) -> Iterator[tuple[ProjectScope, TpuKind]]:
    for where in deps.tpu_scopes:
        yield where, TpuKind.NODE
    for where in deps.compute_scopes:
        yield where, TpuKind.INSTANCE


def list_tpus(deps: Deps, kind: TpuKind, project: str, locations: Sequence[str]) -> list[Tpu]:
    if kind is TpuKind.INSTANCE:
        return list(tpus.compute(deps).list_instances(project, locations).instances)
    return list(deps.tpu.list_nodes(project, locations).nodes)


def judge(
    deps: Deps,
    now: datetime,
    *,
    window: timedelta,
    step: timedelta | None = None,
    project: str | None = None,
    zone: str | None = None,
) -> Fleet:
    """Every managed TPU of either kind (of `project`, in `zone`), its usage over `window` and
    the idle verdict. One Monitoring read per project and kind it runs (plus pages)."""
    keeps = deps.watch.keeps()
    fleet = Fleet([], [], {}, set())
    for where, kind in sources(deps):
        if project not in (None, where.project):
            continue
        if zone is not None and not scope.covers(where, zone):
            continue
        locations = (zone,) if zone is not None else where.locations
        try:
            listed = list_tpus(deps, kind, where.project, locations)
        except TpuError as exc:
            log.warning("usage: %s %ss not listed: %s", where.project, kind.value, exc.message)
            continue
        fleet.listed.add((where.project, kind))
        fleet.tpus.update((t.name, t) for t in listed if zone in (None, t.zone))
    for name, kinds in sorted(fleet.projects.items()):
        usage = read_usage(deps, name, window, now, step, kinds)
        fleet.listings.append(usage)
    by_project = {listing.project: listing for listing in fleet.listings}
    for tpu in fleet.tpus.values():
        facts = facts_of(tpu, kept_until=keeps.get(tpu.name))
        used = by_project[tpu.project].usage_of(facts.key)
        fleet.entries.append(FleetEntry(facts, used, verdict(deps, used, facts, now)))
    return fleet


def verdict(deps: Deps, used: TpuUsage, facts: TpuFacts, now: datetime) -> Verdict:
    idle = deps.config.watch.idle
    return idle_verdict(
        used,
        facts,
        idle.threshold_percent,
        idle.minutes,
        idle.min_chips,
        idle.exempt_labels,
        now,
    )


def read_usage(
    deps: Deps,
    project: str,
    window: timedelta,
    now: datetime,
    step: timedelta | None,
    kinds: Collection[TpuKind],
    *,
    metrics: Collection[Metric] = (Metric.DUTY_CYCLE,),
    ids: Collection[str] = (),
) -> UsageListing:
    if deps.usage is None:
        return UsageListing(
            project, now, window, step or window, unknown=dict.fromkeys(kinds, NOT_CONFIGURED)
        )
    return deps.usage.usage(
        project, window, now, step=step, kinds=tuple(sorted(kinds)), metrics=metrics, ids=ids
    )


def router(deps: Deps) -> Callable[[TpuFacts], str]:
    config = deps.config

    def route(facts: TpuFacts) -> str:
        key = facts.key
        return policy.route(
            key.project, key.zone, facts.labels, config.routes, config.channels.alerts
        )

    return route


def maintenance_lines(
    found: Iterable[Tpu], now: datetime, within: timedelta
) -> list[MaintenanceLine]:
    lines = []
    for tpu in found:
        window = tpu.maintenance
        if window is None:
            continue
        starts = window.window_start
        if starts is None or starts <= now + within:
            lines.append(MaintenanceLine(tpu.ref.display, starts, window.type))
    return sorted(lines, key=lambda line: (line.starts_at is None, line.starts_at or now))
