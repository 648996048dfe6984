"""The watcher under a request budget: which projects each tick polls (`core.watching.plan`
decides; this keeps what it decides from: when each project was polled, what polling it costs,
how hot it is)."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

from bot.core.names import ResourceName
from bot.core.records import Incident
from bot.core.watching import plan as planner
from bot.usecases.context import log
from bot.usecases.watch_fleet import TickReport

RECENT = timedelta(minutes=30)  # an incident this fresh says trouble is under way there


class Pacer:
    """Per-project memory of a leader's polls; `choose(now)` -> the projects to poll now."""

    def __init__(self, budget: float, poll_seconds: float, step_seconds: float) -> None:
        self.budget, self.poll_seconds, self.step_seconds = budget, poll_seconds, step_seconds
        self.last: dict[str, datetime] = {}  # the last full poll (nodes and queued resources)
        self.last_quick: dict[str, datetime] = {}  # the last nodes-only poll
        self.node_cost: dict[str, int] = {}
        self.queue_cost: dict[str, int] = {}
        self.queues_due: set[str] = set()
        self.spot: dict[str, float] = {}
        self.waiting: dict[str, int] = {}
        self.spent: deque[tuple[datetime, int]] = deque()

    def states(
        self, now: datetime, projects: Sequence[str], open_incidents: Mapping[str, Incident]
    ) -> list[planner.ProjectState]:
        opened: Counter[str] = Counter()
        recent: Counter[str] = Counter()
        storm: set[str] = set()
        for name, incident in open_incidents.items():
            project = ResourceName.parse(name).project
            opened[project] += 1
            if now - incident.opened_at <= RECENT:
                recent[project] += 1
                if incident.digest_id:
                    storm.add(project)

        def quick_cost(project: str) -> int | None:
            """Early polls list nodes only: preemptions and health show there at once, while
            queued resources move in minutes (waiting past a threshold, provisioning). Those are
            listed by the deadline, and as soon as the budget allows once a quick poll sees one
            of their nodes appear, change or go."""
            if not self.queue_cost.get(project, 1):
                return None  # no queued resources to leave out (a v1alpha1 project)
            return self.node_cost.get(project, 1)

        return [
            planner.ProjectState(
                project,
                self.last.get(project),
                self.node_cost.get(project, 1) + self.queue_cost.get(project, 1),
                planner.heat(
                    recent_incidents=recent[project],
                    open_incidents=opened[project],
                    waiting_queued=self.waiting.get(project, 0),
                    storm=project in storm,
                    spot_share=self.spot.get(project, 0.0),
                ),
                quick_cost(project),
                self.last_quick.get(project),
                project in self.queues_due,
            )
            for project in projects
        ]

    def _stagger(self, now: datetime, projects: Sequence[str]) -> None:
        """A new leader's first sweep is spread over poll_seconds rather than one burst (a
        burst would come back every poll_seconds and take the budget's every minute it falls
        in): each project is treated as last polled a different fraction of poll_seconds ago."""
        count = len(projects)
        for i, project in enumerate(projects):
            fraction = (count - i) / count
            self.last.setdefault(project, now - timedelta(seconds=fraction * self.poll_seconds))

    def choose(
        self, now: datetime, projects: Sequence[str], open_incidents: Mapping[str, Incident]
    ) -> planner.Plan:
        if not self.last:
            self._stagger(now, projects)
        while self.spent and now - self.spent[0][0] >= planner.WINDOW:
            self.spent.popleft()
        chosen = planner.plan(
            now,
            self.states(now, projects, open_incidents),
            budget=self.budget,
            poll_seconds=self.poll_seconds,
            step_seconds=self.step_seconds,
            spent=tuple(self.spent),
        )
        if chosen.over_budget:
            log.warning(
                "watch: %s requests/min cannot poll every project every %s s; polling anyway",
                self.budget,
                self.poll_seconds,
            )
        return chosen

    def polled(self, now: datetime, report: TickReport, full: Collection[str]) -> None:
        """What a tick found: its cost is spent, its projects' heat and cost updated (`full`:
        the projects whose queued resources were listed too)."""
        for project, requests in report.requests.items():
            self.spent.append((now, requests))
            if project in full:
                # Listed or failed, the attempt is made: a failing listing waits for the next
                # deadline rather than taking the spare budget every tick (meanwhile the nodes
                # a quick poll holds back are judged by that full poll, on their own if need be).
                self.last[project] = now
                self.queues_due.discard(project)
            else:
                self.last_quick[project] = now
            if project in report.failed_projects:
                continue  # what it costs is not known from a failed listing
            queue_requests = report.queue_requests.get(project, 0)
            self.node_cost[project] = requests - queue_requests
            if project in full and project not in report.queues_failed:
                self.queue_cost[project] = queue_requests
        self.queues_due |= report.queues_due
        self.spot.update(report.spot_share)
        self.waiting.update(report.waiting)
