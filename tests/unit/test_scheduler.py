"""Jobs: a failing job is logged and counted and never stops the others; start and stop cleanly."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import Jobs
from devstack.clock import FakeClock


def test_a_failing_job_is_counted_and_the_next_run_still_happens(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    jobs = Jobs(clock, metrics)
    calls: list[datetime] = []

    def flaky(now: datetime) -> int:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return 7

    jobs.add("flaky", 60, flaky)
    assert jobs.run("flaky") is None
    assert "job flaky failed" in caplog.text
    assert "flaky" not in jobs.last_success
    clock.advance(60)
    assert jobs.run("flaky") == 7 and jobs.last_success["flaky"] == clock()
    sample = metrics.registry.get_sample_value
    assert sample("tpubot_ticks_total", {"job": "flaky", "outcome": "error"}) == 1
    assert sample("tpubot_ticks_total", {"job": "flaky", "outcome": "ok"}) == 1


def test_the_scheduler_runs_jobs_and_shuts_down(clock: FakeClock) -> None:
    ran = threading.Event()
    jobs = Jobs(clock, Metrics())
    jobs.add("once", 3600, lambda now: ran.set())
    jobs.start()
    try:
        assert ran.wait(10)  # the first run is immediate
    finally:
        jobs.shutdown()
    assert jobs._scheduler is None


def test_wake_runs_a_job_once_more_before_its_interval(clock: FakeClock) -> None:
    runs: list[threading.Event] = [threading.Event() for _ in range(3)]
    done: list[datetime] = []

    def job(now: datetime) -> None:
        done.append(now)
        runs[min(len(done), 3) - 1].set()

    jobs = Jobs(clock, Metrics())
    jobs.add("drain", 3600, job)
    jobs.wake("drain")  # not started yet: nothing to wake, and no error
    jobs.start()
    try:
        assert runs[0].wait(10)  # the first run is immediate
        assert not runs[1].is_set()  # the next one is an hour away...
        jobs.wake("drain")
        assert runs[1].wait(10)  # ...unless woken
        jobs.wake("drain")  # and woken again
        assert runs[2].wait(10)
    finally:
        jobs.shutdown()
    assert len(done) == 3
