"""APScheduler jobs that call the service with now=clock(). No overlaps; a failing job is logged,
counted, and tried again at its next interval."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.runtime.lease import Lease
from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class Jobs:
    """Named periodic jobs; `run(name)` runs one now, which is what tests call."""

    def __init__(self, clock: Clock, metrics: Metrics, lease: Lease | None = None) -> None:
        self.clock = clock
        self.metrics = metrics
        self.lease = lease
        self._jobs: dict[str, tuple[Callable[[datetime], Any], float]] = {}
        self._everywhere: set[str] = set()  # jobs every replica runs, leader or not
        self.last_success: dict[str, datetime] = {}
        self._scheduler: BackgroundScheduler | None = None
        # APScheduler's shutdown holds its job-store lock while it waits for running jobs; a job
        # that then modifies jobs (a new leader catching up) would wait for it forever.
        self._scheduler_lock = threading.Lock()

    def add(
        self,
        name: str,
        every_seconds: float,
        job: Callable[[datetime], Any],
        *,
        leader_only: bool = True,
    ) -> None:
        """A periodic job; by default only the replica holding the lease runs it."""
        self._jobs[name] = (job, every_seconds)
        if not leader_only:
            self._everywhere.add(name)
        self.metrics.job_interval.labels(job=name).set(every_seconds)

    def run(self, name: str) -> Any:
        job, _ = self._jobs[name]
        started = time.perf_counter()
        now = self.clock()
        if self.lease is not None and name not in self._everywhere:
            leader = self.lease.held(now)
            self.metrics.leader.set(1 if leader else 0)
            if not leader:
                # Another replica leads: it runs the jobs, so alerts go out once.
                self.metrics.ticks.labels(job=name, outcome="standby").inc()
                return None
            if self.lease.took_over:
                self.lease.took_over = False
                self._run_all_now(besides=name)
        try:
            result = job(now)
        except Exception:
            # A scheduler must outlive any one job's failure: log it with its traceback, count it.
            log.exception("job %s failed", name)
            self.metrics.ticks.labels(job=name, outcome="error").inc()
            return None
        finally:
            self.metrics.tick_seconds.labels(job=name).observe(time.perf_counter() - started)
        self.metrics.ticks.labels(job=name, outcome="ok").inc()
        # Wall time, not the injected clock: Prometheus compares it with its own time().
        self.metrics.last_success.labels(job=name).set(time.time())
        self.last_success[name] = now
        return result

    def wake(self, name: str) -> None:
        """Run a job once more, now, besides its interval (no-op when the scheduler is not
        running, as in tests that call `run`). A one-off job of its own: moving the periodic
        one would be skipped while it runs (max_instances) and would shift its schedule. The
        job must be safe to run twice at once (the drainer holds its own lock)."""
        with self._scheduler_lock:
            if self._scheduler is None:
                return
            self._scheduler.add_job(
                self.run,
                "date",
                args=[name],
                id=f"{name}:wake",
                replace_existing=True,
                misfire_grace_time=30,
            )

    def _run_all_now(self, besides: str) -> None:
        """A new leader catches up at once instead of waiting out each job's interval."""
        with self._scheduler_lock:
            if self._scheduler is None:  # shutting down
                return
            now = datetime.now(self._scheduler.timezone)
            for name in self._jobs:
                if name != besides and name not in self._everywhere:  # not running right now
                    self._scheduler.modify_job(name, next_run_time=now)

    def start(self) -> None:
        scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )
        for name, (_, every) in self._jobs.items():
            scheduler.add_job(
                self.run,
                "interval",
                args=[name],
                seconds=every,
                id=name,
                next_run_time=datetime.now(scheduler.timezone),
            )
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self) -> None:
        """Let running jobs finish, then release the lease."""
        with self._scheduler_lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        if self.lease is not None:
            self.lease.release()
