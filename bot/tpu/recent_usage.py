"""People's commands' reads of Cloud Monitoring: a question asked again within a minute is
answered from the first read, and askers of a question being read wait for it."""

from __future__ import annotations

import threading
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from bot.core.usage import Metric, TpuKind, UsageListing
from bot.usecases.ports import UsageApi

_Question = tuple[Any, ...]  # what a `usage` call asks, but when


class RecentUsage:
    """A UsageApi that answers a question asked again within `ttl` with what it read for the
    first asker (people's commands: a burst of the same listing reads Monitoring once, and
    usage over an hour moves little in a minute). Askers of a question being read wait for
    that read instead of sending their own. A read that came back unknown is not kept."""

    def __init__(
        self, inner: UsageApi, ttl: timedelta = timedelta(seconds=60), size: int = 512
    ) -> None:
        self.inner = inner
        self.ttl = ttl
        self.size = size
        self._lock = threading.Lock()
        self._kept: dict[_Question, tuple[datetime, UsageListing]] = {}
        self._reading: dict[_Question, threading.Event] = {}

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
        question: _Question = (
            project,
            window,
            step,
            tuple(sorted(metrics)),
            None if kinds is None else tuple(sorted(kinds)),
            tuple(sorted(ids)),
        )
        while True:
            with self._lock:
                kept = self._kept.get(question)
                if kept is not None and timedelta(0) <= now - kept[0] < self.ttl:
                    return kept[1]
                other = self._reading.get(question)
                if other is None:
                    mine = self._reading[question] = threading.Event()
                    break
            other.wait()  # the read under way ends (its `finally` sets it); then ask again
        try:
            listing = self.inner.usage(
                project, window, now, step=step, metrics=metrics, kinds=kinds, ids=ids
            )
            if listing.known:
                self._keep(question, now, listing)
            return listing
        finally:
            with self._lock:
                del self._reading[question]
            mine.set()

    def _keep(self, question: _Question, now: datetime, listing: UsageListing) -> None:
        with self._lock:
            self._kept[question] = (now, listing)
            if len(self._kept) > self.size:
                stale = [q for q, (at, _) in self._kept.items() if now - at >= self.ttl]
                for old in stale or list(self._kept)[: len(self._kept) - self.size]:
                    del self._kept[old]
