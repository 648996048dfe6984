"""RecentUsage: people's commands asking Monitoring the same question within a minute read it
once; askers of a question being read wait for that read; unknown answers are not kept."""

from __future__ import annotations

import threading
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.usage import Metric, TpuKind, UsageListing
from bot.tpu.recent_usage import RecentUsage

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Monitoring:
    """A UsageApi that counts its reads; `gate` (when set) holds each read until released."""

    def __init__(self, unknown: bool = False) -> None:
        self.reads: list[tuple[str, tuple[str, ...]]] = []
        self.unknown = unknown
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def usage(
        self,
        project: str,
        window: timedelta,
        now: datetime,
        *,
        step: timedelta | None = None,
        metrics: Collection[Metric] = (Metric.DUTY_CYCLE,),
        kinds: Collection[TpuKind] | None = None,
        ids: Collection[str] = (),
    ) -> UsageListing:
        self.reads.append((project, tuple(ids)))
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        unknown = {TpuKind.NODE: "Cloud Monitoring: 503"} if self.unknown else {}
        return UsageListing(project, now, window, step or window, unknown=unknown, requests=1)


def test_the_same_question_within_the_ttl_is_read_once() -> None:
    inner = Monitoring()
    recent = RecentUsage(inner, ttl=timedelta(seconds=60))
    first = recent.usage("p", HOUR, T0, ids=["a", "b"])
    again = recent.usage("p", HOUR, T0 + timedelta(seconds=59), ids=["b", "a"])  # same, reordered
    assert again is first and len(inner.reads) == 1
    later = recent.usage("p", HOUR, T0 + timedelta(seconds=60), ids=["a", "b"])
    assert later is not first and len(inner.reads) == 2


def test_another_question_is_read_on_its_own() -> None:
    inner = Monitoring()
    recent = RecentUsage(inner)
    recent.usage("p", HOUR, T0, ids=["a"])
    recent.usage("p", HOUR, T0, ids=["b"])
    recent.usage("q", HOUR, T0, ids=["a"])
    recent.usage("p", 2 * HOUR, T0, ids=["a"])
    recent.usage("p", HOUR, T0, ids=["a"], metrics=(Metric.DUTY_CYCLE, Metric.HBM_USED))
    assert len(inner.reads) == 5


def test_an_unknown_answer_is_not_kept() -> None:
    inner = Monitoring(unknown=True)
    recent = RecentUsage(inner)
    assert not recent.usage("p", HOUR, T0).known
    assert not recent.usage("p", HOUR, T0).known
    assert len(inner.reads) == 2  # asked again: Monitoring may be back


def test_askers_of_a_question_being_read_wait_for_that_read() -> None:
    inner = Monitoring()
    inner.gate = threading.Event()
    recent = RecentUsage(inner)
    answers: list[UsageListing] = []
    askers = [
        threading.Thread(target=lambda: answers.append(recent.usage("p", HOUR, T0)))
        for _ in range(5)
    ]
    for asker in askers:
        asker.start()
    assert inner.entered.wait(10)
    inner.gate.set()
    for asker in askers:
        asker.join(10)
    assert len(answers) == 5 and len(inner.reads) == 1
    assert all(a is answers[0] for a in answers)


def test_a_failed_read_lets_the_next_asker_read() -> None:
    class Failing(Monitoring):
        def usage(self, project: str, *args: object, **kwargs: object) -> UsageListing:
            self.reads.append((project, ()))
            raise ValueError("boom")

    inner = Failing()
    recent = RecentUsage(inner)
    for _ in range(2):
        with pytest.raises(ValueError, match="boom"):
            recent.usage("p", HOUR, T0)
    assert len(inner.reads) == 2
