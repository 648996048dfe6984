"""Shutdown while a job is becoming leader: APScheduler's shutdown holds its job-store lock while it
waits for running jobs, so a new leader's catch-up (which modifies jobs) must not wait on it."""

from __future__ import annotations

import threading
from datetime import datetime

from apscheduler.schedulers.base import STATE_STOPPED

from bot.runtime.lease import Lease
from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import Jobs
from devstack.clock import FakeClock
from devstack.waiting import eventually


class LeaseTakenDuringShutdown(Lease):
    """Becomes leader only when told to (the test tells it once shutdown has begun)."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.go = threading.Event()
        self.took_over = False
        self.released = False

    def held(self, now: datetime) -> bool:
        self.asked.set()
        self.go.wait(timeout=30)
        self.took_over = True
        return True

    def release(self) -> None:
        self.released = True


def test_shutdown_does_not_deadlock_with_a_new_leaders_catch_up(clock: FakeClock) -> None:
    lease = LeaseTakenDuringShutdown()
    jobs = Jobs(clock, Metrics(), lease)
    jobs.add("first", 3600, lambda now: None)
    jobs.add("second", 3600, lambda now: None)
    jobs.start()
    scheduler = jobs._scheduler
    assert scheduler is not None
    lease.asked.wait(timeout=10)  # a job is running and asking for the lease
    stopping = threading.Thread(target=jobs.shutdown, daemon=True)
    stopping.start()
    eventually(lambda: scheduler.state == STATE_STOPPED, 10, "shutdown under way")
    lease.go.set()  # now the job takes over and would catch up the other jobs
    stopping.join(timeout=10)
    assert not stopping.is_alive(), "shutdown deadlocked"
    assert lease.released
