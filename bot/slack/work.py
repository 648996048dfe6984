"""Where the work that follows an ack runs: a bounded queue, a few workers, and a side lane.

The queue is bounded so that a flood is answered "busy, try again in N s" at once instead of
growing without end; N comes from how fast the queue drained lately. Work accepted is never
dropped: it runs, and `shutdown` waits for everything queued. Each worker hands its request to a
`Backend`: the bot's own threads (bot.slack.listeners.InProcess), or a child process
(bot.runtime.workers), so that the work - listing, rendering, answering - never holds the
interpreter that acks.

While Slack waits on acks (requests in flight, or read and queued, and for 20 ms after), the
workers hold back new work (`AckGate`, at most a second per job): a burst is acked first and
worked on right after, instead of the acks sharing the cores with rendering, the TPU API calls
and the answers.

The side lane (one thread) carries what the ack path must not wait for and the queue must not
refuse: an audit line, a refusal notice through response_url. It is best effort: when it is
full, what does not fit is dropped and counted.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.core.limits import DrainRate
from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)
Job = Callable[[], None]


class Kind(enum.StrEnum):
    COMMAND = "command"
    CLICK = "click"
    HOME = "home"  # someone opened the bot's Home tab: draw it
    HOME_CLICK = "home click"  # a button in the Home tab: answered in their DMs

    @property
    def answers_by_response_url(self) -> bool:
        """Whether Slack handed a response_url (a Home view has none: its answers go through
        the outbox, to the person's DMs)."""
        return self in (Kind.COMMAND, Kind.CLICK)


@dataclass(frozen=True)
class Request:
    """A command or a click as the work needs it (plain strings: it crosses to a child process)."""

    kind: Kind
    user: str
    channel: str
    text: str  # what it runs (a click's carried command)
    response_url: str  # checked against Slack's hosts before it gets here
    action: str = ""  # a click's action id


class Backend(Protocol):
    """What runs one admitted request to its end (the answer posted through response_url)."""

    def start(self) -> None: ...
    def run(self, request: Request) -> None: ...
    def close(self) -> None: ...


class AckGate:
    """Requests Slack is waiting on: in flight (`enter`/`leave`), or read and waiting for a
    server thread (`pending`). `wait_quiet` holds a worker until none has been seen for
    `settle` s (the gaps inside a burst are shorter), or at most `hold` s."""

    def __init__(self, hold: float = 1.0, settle: float = 0.02) -> None:
        self.hold = hold
        self.settle = settle
        self.pending: Callable[[], int] = lambda: 0  # the server's queue (set when it listens)
        self._cond = threading.Condition()
        self._in_flight = 0
        self._last = float("-inf")  # when the last one in flight left

    def enter(self) -> None:
        with self._cond:
            self._in_flight += 1

    def leave(self) -> None:
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            self._last = time.monotonic()

    def _quiet_for(self, now: float) -> float:
        """Seconds since Slack last waited on an ack (0 while it does)."""
        if self._in_flight or self.pending():
            return 0.0
        return now - self._last

    def wait_quiet(self) -> None:
        """Return when no ack was under way for `settle` s, or after `hold` s (work is never
        starved by a steady stream of acks)."""
        now = time.monotonic()
        deadline = now + self.hold
        with self._cond:
            while (quiet := self._quiet_for(now)) < self.settle and now < deadline:
                self._cond.wait(min(deadline - now, self.settle - quiet))
                now = time.monotonic()


class WorkPool:
    """`workers` threads behind a queue of at most `capacity` waiting requests; a side lane."""

    def __init__(
        self,
        backend: Backend,
        workers: int = 2,
        capacity: int = 500,
        metrics: Metrics | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        side_capacity: int = 1000,
        gate: AckGate | None = None,
    ) -> None:
        self.backend = backend
        self.gate = gate or AckGate()
        self.capacity = capacity
        self._metrics = metrics
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._waiting = 0
        self._closed = False
        self._drain = DrainRate()
        # A SimpleQueue and threads of our own: an executor's submit takes a lock every
        # executor in the process shares, which acks ended up waiting on in a burst.
        self._queue: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._workers = [
            threading.Thread(target=self._work, name=f"tpu-bot-work-{i}", daemon=True)
            for i in range(workers)
        ]
        for worker in self._workers:
            worker.start()
        self._side: queue.Queue[Job | None] = queue.Queue(maxsize=side_capacity)
        self._side_thread = threading.Thread(target=self._side_loop, name="tpu-bot-side")
        self._side_thread.daemon = True
        self._side_thread.start()

    @property
    def waiting(self) -> int:
        return self._waiting

    def start(self) -> None:
        self.backend.start()

    def offer(self, request: Request) -> bool:
        """Queue `request` if there is room (True); False when full or shutting down."""
        with self._lock:
            if self._closed or self._waiting >= self.capacity:
                return False
            self._waiting += 1
            depth = self._waiting
        self._depth(depth)
        self._queue.put(request)
        return True

    def retry_after(self) -> float:
        """Seconds until the jobs waiting now are done, at the rate the queue drained lately."""
        with self._lock:
            return self._drain.retry_after(max(1, self._waiting), self._monotonic())

    def _depth(self, depth: int) -> None:
        if self._metrics is not None:
            self._metrics.work_queue_depth.set(depth)

    def _work(self) -> None:
        while (request := self._queue.get()) is not None:
            self._run(request)

    def _run(self, request: Request) -> None:
        with self._lock:
            self._waiting -= 1
            depth = self._waiting
        self._depth(depth)
        self.gate.wait_quiet()
        try:
            self.backend.run(request)
        except Exception:
            # The user already has their ack; the traceback goes to the log.
            log.exception("work after ack failed")
        finally:
            with self._lock:
                self._drain.finished(self._monotonic())

    def aside(self, job: Job) -> bool:
        """Run `job` on the side lane, in order, best effort (False: dropped, the lane is full)."""
        try:
            self._side.put_nowait(job)
            return True
        except queue.Full:
            if self._metrics is not None:
                self._metrics.refused.labels(reason="side_lane_full").inc()
            return False

    def _side_loop(self) -> None:
        while True:
            job = self._side.get()
            if job is None:
                return
            try:
                job()
            except Exception:
                log.exception("side work failed")

    def shutdown(self) -> None:
        """Refuse new work, finish everything queued (and the side lane), close the backend."""
        with self._lock:
            self._closed = True
        for _ in self._workers:
            self._queue.put(None)  # after everything queued: each worker finishes, then stops
        for worker in self._workers:
            worker.join()
        self._side.put(None)
        self._side_thread.join()
        self.backend.close()
