"""The watcher's listing and memory: projects listed a few at a time, snapshots kept on the leader.

Each project's nodes and queued resources are listed on a small bounded pool (each request gets
its own Http, so threads are safe). Through a TPU adapter with a light listing, a node that is
listed exactly as last tick (same fingerprint) never becomes a model. The snapshots live in memory
on the leader; the database is the durable copy, written for changes only, and stamped with a
version: a process whose copy is not the latest (it just became leader) loads it again.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bot.core.models import Node, ProjectScope
from bot.core.queued import WAITING, QueuedListing, QueuedResource
from bot.core.watching import diff as health
from bot.core.watching.diff import Snapshot
from bot.core.watching.listing import NodeChanges
from bot.usecases.context import log
from bot.usecases.ports import TpuApi, TpuError, WatchStore

LIST_WORKERS = 8  # projects listed at once
VERSION_KEY = "snapshots_version"


@dataclass
class TickReport:
    nodes: int = 0
    queued: int = 0
    events: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    failed_projects: list[str] = field(default_factory=list)
    unreachable: set[tuple[str, str]] = field(default_factory=set)
    listed: list[str] = field(default_factory=list)
    changed: int = 0  # nodes that became models (new, changed, or with an incident)
    requests: dict[str, int] = field(default_factory=dict)  # per project polled, estimated
    queue_requests: dict[str, int] = field(default_factory=dict)  # of those, queued resources
    queues_failed: list[str] = field(default_factory=list)  # asked for, not listed
    queues_due: set[str] = field(default_factory=set)  # quick polls that saw a queue's node change
    spot_share: dict[str, float] = field(default_factory=dict)  # per project listed
    waiting: dict[str, int] = field(default_factory=dict)  # queued resources waiting, per project
    # Compute Engine: TPU VM instances listed, those read further, requests, projects failed.
    instances: int = 0
    instances_changed: int = 0
    compute_requests: dict[str, int] = field(default_factory=dict)
    compute_failed: list[str] = field(default_factory=list)


@dataclass
class ProjectListing:
    """One project's answer this tick; `nodes` None: it failed (partial data)."""

    project: str
    nodes: NodeChanges | None = None
    queued: QueuedListing | None = None
    error: str = ""
    queued_error: str = ""
    queues_asked: bool = True  # False: a quick poll, nodes only

    @property
    def queue_requests(self) -> int:
        """What listing its queued resources cost (pages, estimated; 0 when not asked)."""
        if not self.queues_asked or self.nodes is None:  # (a failed node listing stops there)
            return 0
        queued = len(self.queued.queued_resources) if self.queued is not None else 0
        return max(1, -(-queued // 1000)) if self.nodes.has_queues else 0

    @property
    def requests(self) -> int:
        """What polling it costs (nodes pages + queued-resource pages, estimated)."""
        nodes = 1 if self.nodes is None else max(1, self.nodes.pages)
        return nodes + self.queue_requests


def _list_one(
    tpu: TpuApi,
    scope: ProjectScope,
    known: Mapping[str, int],
    wanted: Collection[str],
    queues: bool = True,
) -> ProjectListing:
    result = ProjectListing(scope.project, queues_asked=queues)
    try:
        result.nodes = tpu.list_node_changes(scope.project, scope.locations, known, wanted)
    except TpuError as exc:
        result.error = exc.message
        return result
    if not queues:
        return result
    try:
        result.queued = tpu.list_queued_resources(scope.project, scope.locations)
    except TpuError as exc:
        result.queued_error = exc.message
    return result


def list_projects(
    tpu: TpuApi,
    scopes: Sequence[ProjectScope],
    known: Mapping[str, int],
    wanted: Collection[str],
    workers: int | None = None,
    quick: Collection[str] = (),
) -> list[ProjectListing]:
    """Every scope's listing, in scope order, at most `workers` (LIST_WORKERS) at once; the
    projects in `quick` list their nodes only."""
    workers = LIST_WORKERS if workers is None else workers

    def one(scope: ProjectScope) -> ProjectListing:
        return _list_one(tpu, scope, known, wanted, scope.project not in quick)

    if len(scopes) <= 1 or workers <= 1:
        return [one(scope) for scope in scopes]
    with ThreadPoolExecutor(min(workers, len(scopes)), thread_name_prefix="watch-list") as pool:
        return list(pool.map(one, scopes))


@dataclass
class Memory:
    """The leader's copy of the snapshots, and the fingerprints the listing compares."""

    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    prints: dict[str, int] = field(default_factory=dict)
    version: str | None = None  # the database's version this copy matches

    def load(self, watch: WatchStore) -> dict[str, Snapshot]:
        """The snapshots; read from the database only when its copy is not this one."""
        version = watch.get(VERSION_KEY)
        if self.version is None or version != self.version:
            if self.version is not None:
                log.info("watch: snapshots changed elsewhere, loading them again")
            self.snapshots = watch.load_snapshots()
            self.prints = {}
            self.version = version
        return self.snapshots

    def save(
        self, watch: WatchStore, conn: object, changed: list[Snapshot], removed: list[str]
    ) -> str | None:
        """Write the changes in the tick's transaction; the new version, if anything changed."""
        if not changed and not removed:
            return None
        watch.save_snapshots(conn, changed, removed)
        version = uuid.uuid4().hex
        watch.put(conn, VERSION_KEY, version)
        return version

    def committed(
        self,
        version: str | None,
        changed: list[Snapshot],
        removed: list[str],
        prints: Mapping[str, int],
    ) -> None:
        """After the transaction committed: the same changes here."""
        for name in removed:
            self.snapshots.pop(name, None)
            self.prints.pop(name, None)
        for snap in changed:
            self.snapshots[snap.name] = snap
        # Only the fingerprints that changed are kept: an equal one made this tick is dropped
        # with the tick, so what the leader keeps for long is not spread among the pages it read
        # (which would keep the allocator from reusing their memory).
        kept = self.prints
        for name, mark in prints.items():
            if kept.get(name) != mark:
                kept[name] = mark
        if version is not None:
            self.version = version


@dataclass
class Fleet:
    nodes: list[Node | Snapshot] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    prints: dict[str, int] = field(default_factory=dict)
    queued: list[QueuedResource] = field(default_factory=list)
    queue_unreachable: set[tuple[str, str]] = field(default_factory=set)
    in_queues: set[str] = field(default_factory=set)  # listed nodes a queued resource made


def gather(listings: list[ProjectListing], report: TickReport) -> Fleet:
    """The projects' answers together; a project that fails to list is partial data, never
    'all gone'."""
    fleet = Fleet()
    for one in listings:
        project = one.project
        report.requests[project] = one.requests
        report.queue_requests[project] = one.queue_requests
        if one.nodes is None:
            log.warning("watch: %s not listed: %s", project, one.error)
            report.failed_projects.append(project)
            report.unreachable.add((project, "-"))
            continue
        report.listed.append(project)
        fleet.nodes.extend(one.nodes.nodes)
        fleet.unchanged.extend(one.nodes.unchanged)
        fleet.prints.update(one.nodes.fingerprints)
        fleet.in_queues.update(one.nodes.in_queues)
        report.spot_share[project] = one.nodes.spot / max(1, one.nodes.listed)
        for location in one.nodes.unreachable:
            report.unreachable.add((project, location.rsplit("/", 1)[-1]))
        if not one.queues_asked:
            # A quick poll: nothing is concluded about its queued resources this tick.
            fleet.queue_unreachable.add((project, "-"))
            continue
        if one.queued is None:
            report.queues_failed.append(project)
            log.warning("watch: queued resources of %s not listed: %s", project, one.queued_error)
            fleet.queue_unreachable.add((project, "-"))
            continue
        fleet.queued.extend(one.queued.queued_resources)
        report.waiting[project] = sum(1 for q in one.queued.queued_resources if q.state in WAITING)
        for location in one.queued.unreachable:
            fleet.queue_unreachable.add((project, location.rsplit("/", 1)[-1]))
    report.nodes = len(fleet.nodes) + len(fleet.unchanged)
    report.changed = len(fleet.nodes)
    report.queued = len(fleet.queued)
    return fleet


def defer_quick(
    fleet: Fleet,
    previous: Mapping[str, Snapshot],
    quick: Collection[str],
    unreachable: Collection[tuple[str, str]],
) -> set[str]:
    """On a quick poll (nodes only), nothing is concluded about a queued resource's nodes (their
    resource tells their story, and it was not listed) nor about nodes gone (whose they were is
    not known): they keep their snapshots and fingerprints, to be judged by the next full poll.
    The quick projects where such a node changed or went: their queued resources are due."""
    if not quick:
        return set()
    prefixes = tuple(f"projects/{project}/" for project in quick)
    held = {name for name in fleet.in_queues if name.startswith(prefixes)}
    due: set[str] = set()
    kept: list[Node | Snapshot] = []
    for node in fleet.nodes:
        if node.name not in held:
            kept.append(node)
            continue
        due.add(node.project)
        fleet.prints.pop(node.name, None)  # still "changed" next time: the full poll judges it
        if node.name in previous:
            fleet.unchanged.append(node.name)
    fleet.nodes = kept
    listed = set(fleet.unchanged)
    listed.update(node.name for node in fleet.nodes)
    for name, snap in previous.items():
        if name.startswith(prefixes) and name not in listed:
            fleet.unchanged.append(name)  # gone, or in a zone that did not answer: kept as is
            if health.reachable(snap, unreachable):
                due.add(snap.project)
    return due


def snapshot_changes(
    previous: dict[str, Snapshot], fleet: Fleet, report: TickReport
) -> tuple[list[Snapshot], list[str]]:
    """Snapshots that differ from the last tick's, and those of nodes gone from a listed,
    reachable zone."""
    current = [health.snapshot_of(node) for node in fleet.nodes]
    changed = [snap for snap in current if previous.get(snap.name) != snap]
    seen = set(fleet.unchanged)
    seen.update(snap.name for snap in current)
    listed = set(report.listed)
    removed = [
        name
        for name, snap in previous.items()
        if name not in seen
        and snap.project in listed
        and health.reachable(snap, report.unreachable)
    ]
    return changed, removed
