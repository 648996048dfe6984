"""The work in a child process, so that the interpreter that acks never runs it.

The bot's process keeps the HTTP server (or the Socket Mode connection), the ack path, the
scheduler and the drainer. One child process, started with `spawn`, builds its own dispatcher
from the same settings (its own TPU client, database connections and Slack directory) and runs
each admitted request - dispatch, render, the POST to response_url - on threads of its own. They
speak over a pipe: a request and its id go out; the id, the TPU API calls made and the user's
groups come back, so the bot's /metrics and the ack path's view of admins stay whole.

A child that dies (killed, out of memory) fails the requests it held: each user is told, by the
pool thread that waited for it; the next request starts a new child, not sooner than
RESTART_SECONDS after the last start (a child that cannot start does not spin). A bot process
that dies takes the child with it (the child sees its pipe close and exits at once), as one
process would.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from bot.config import Settings, secrets_to_mask
from bot.runtime.logs import JsonFormatter
from bot.runtime.logs import configure as configure_logging
from bot.runtime.metrics import Metrics
from bot.slack.ingress import SeenGroups, note
from bot.slack.listeners import Handler, serve_request
from bot.slack.work import Request

log = logging.getLogger(__name__)
RESTART_SECONDS = 5.0
LOST = (
    "The bot's worker stopped before it finished this request, so it may or may not have run. "
    "Check before you try again (`/tpu ops`, or the node itself)."
)
NOT_STARTED = "The bot could not start its worker, so nothing was run. Try again in a minute."
READY = "ready"  # the child's first message, once its dispatcher is built
# What a child builds its side with: the dispatcher and the directory wrapper it looks up with.
WorkSide = Callable[[Settings, Callable[[str, str], None]], tuple[Handler, SeenGroups]]


class WorkerLost(Exception):
    """The child process ended before answering; `started`: whether it had begun any work."""

    def __init__(self, why: str, started: bool = True) -> None:
        super().__init__(why)
        self.started = started


@dataclass(frozen=True)
class Outcome:
    """What the bot's process learns from a finished request."""

    tpu_calls: tuple[tuple[str, str], ...]  # (method, status) of every TPU API call made
    groups: frozenset[str] | None  # the user's groups, if the work looked them up


class CallTally:
    """TPU API calls made in the child since the last outcome (its client's observer)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[tuple[str, str]] = []

    def observe(self, method: str, status: str) -> None:
        with self._lock:
            self._calls.append((method, status))

    def drain(self) -> tuple[tuple[str, str], ...]:
        with self._lock:
            calls, self._calls = tuple(self._calls), []
        return calls


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None


@dataclass
class _Child:
    process: Any  # multiprocessing's SpawnProcess
    conn: Connection
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: dict[int, _Waiter] = field(default_factory=dict)
    dead: bool = False
    ready: bool = False  # its dispatcher is built: what it was handed, it may have run


class WorkProcess:
    """A Backend for the work pool: each request runs in the child; the caller waits for it."""

    def __init__(
        self,
        settings: Settings,
        threads: int,
        work_side: WorkSide,
        metrics: Metrics | None = None,
        seen: SeenGroups | None = None,
    ) -> None:
        self.settings = settings
        self.threads = threads
        self.work_side = work_side
        self.metrics = metrics
        self.seen = seen
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._ids = itertools.count()
        self._started_at = float("-inf")
        self._closing = False

    @property
    def pid(self) -> int | None:
        child = self._child
        return None if child is None else child.process.pid

    def start(self) -> None:
        """Start the child now (not at the first request). From a thread of its own: starting
        a process blocks SIGTERM in the calling thread for a moment (multiprocessing's resource
        tracker), and a SIGTERM that lands then, in the main thread, would go to another thread
        and never wake the main thread waiting for it."""
        errors: list[BaseException] = []

        def spawn() -> None:
            try:
                with self._lock:
                    self._ensure()
            except BaseException as exc:  # handed to the caller below
                errors.append(exc)

        thread = threading.Thread(target=spawn, name="tpu-bot-work-start")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    def _ensure(self) -> _Child:
        """The live child, started if there is none (the lock is held). A new child starts at
        most once every RESTART_SECONDS: a caller waits out the rest (a child that cannot start
        does not spin)."""
        if self._child is not None and not self._child.dead:
            return self._child
        if self._closing:
            raise WorkerLost("shutting down", started=False)
        wait = RESTART_SECONDS - (time.monotonic() - self._started_at)
        if wait > 0:
            threading.Event().wait(wait)  # a backoff, in a worker thread
        self._started_at = time.monotonic()
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        root = logging.getLogger()
        json_lines = any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
        args = (theirs, self.settings, self.threads, self.work_side, root.level, json_lines)
        process = context.Process(target=child_main, args=args, name="tpu-bot-work", daemon=True)
        process.start()
        theirs.close()
        child = _Child(process, ours)
        self._child = child
        reader = threading.Thread(target=self._read, args=(child,), name="tpu-bot-work-read")
        reader.daemon = True  # a bot that exits without close() must not wait for it
        reader.start()
        if self.metrics is not None:
            self.metrics.work_process_starts.inc()
        log.info("work: started work process %s", process.pid)
        return child

    def run(self, request: Request) -> None:
        try:
            outcome = self.call(request)
        except WorkerLost as exc:
            log.error("work: %s; telling %s", exc, request.user)
            note(request.response_url, LOST if exc.started else NOT_STARTED)
            return
        if self.metrics is not None:
            for method, status in outcome.tpu_calls:
                self.metrics.tpu_call(method, status)
        if self.seen is not None and outcome.groups is not None:
            self.seen.remember(request.user, outcome.groups)

    def call(self, request: Request) -> Outcome:
        """Run `request` in the child and wait for its outcome (WorkerLost if the child ends)."""
        waiter = _Waiter()
        with self._lock:
            child = self._ensure()
            key = next(self._ids)
            child.waiting[key] = waiter
        try:
            with child.send_lock:
                child.conn.send((key, request))
        except (OSError, ValueError):
            child.waiting.pop(key, None)
            raise WorkerLost("the work process is gone", started=child.ready) from None
        waiter.done.wait()
        if waiter.outcome is None:
            raise WorkerLost("the work process ended", started=child.ready)
        return waiter.outcome

    def _read(self, child: _Child) -> None:
        """Outcomes from `child` to whoever waits for them; when it ends, fail what is left."""
        try:
            while True:
                key, outcome = child.conn.recv()
                if key == READY:
                    child.ready = True
                    continue
                waiter = child.waiting.pop(key, None)
                if waiter is not None:
                    waiter.outcome = outcome
                    waiter.done.set()
        except (EOFError, OSError):
            pass
        with self._lock:  # no request is handed to this child from here on
            child.dead = True
            if self._child is child:
                self._child = None
            left = list(child.waiting.values())
            child.waiting.clear()
        for waiter in left:
            waiter.done.set()
        child.process.join(timeout=5)
        if not self._closing or left:
            log.warning(
                "work: work process %s ended (exit %s) holding %d request(s)",
                child.process.pid,
                child.process.exitcode,
                len(left),
            )
        child.conn.close()

    def close(self, timeout: float = 10.0) -> None:
        """Let the child finish what it holds, then end it."""
        with self._lock:
            self._closing = True
            child = self._child
        if child is None:
            return
        try:
            with child.send_lock:
                child.conn.send(None)
        except (OSError, ValueError):
            pass
        child.process.join(timeout=timeout)
        if child.process.is_alive():
            log.warning("work: work process %s did not stop; terminating it", child.process.pid)
            child.process.terminate()
            child.process.join(timeout=5)


def child_main(
    conn: Connection,
    settings: Settings,
    threads: int,
    work_side: WorkSide,
    level: int,
    json_lines: bool,
) -> None:
    """The child: build the dispatcher, then run each request that arrives on its threads."""
    # Ctrl-C reaches the whole process group; the bot's process decides when the child stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(logging.getLevelName(level), json_lines, secrets_to_mask())
    tally = CallTally()
    handler, seen = work_side(settings, tally.observe)
    send_lock = threading.Lock()
    conn.send((READY, None))

    def one(key: int, request: Request) -> None:
        try:
            serve_request(handler, _utcnow, request)
        except Exception:
            log.exception("work after ack failed")
        groups = seen.cached(request.user)
        outcome = Outcome(tally.drain(), frozenset(groups) if groups else None)
        try:
            with send_lock:
                conn.send((key, outcome))
        except (OSError, ValueError):
            log.warning("work: the bot's process is gone; an outcome was not delivered")

    with ThreadPoolExecutor(threads, thread_name_prefix="tpu-bot-work") as pool:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                # The bot's process died (SIGKILL, out of memory): its work dies with it, as it
                # would in one process; what the bot had claimed is taken over as after a crash.
                log.error("work: the bot's process is gone; the work process stops now")
                logging.shutdown()
                os._exit(1)
            if message is None:
                break  # an orderly stop: finish what was handed over, then exit
            pool.submit(one, *message)
    conn.close()


def _utcnow() -> datetime:
    return datetime.now(UTC)
