"""build(settings): the one place where the bot's objects are wired; the running Bot."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot import clients
from bot.config import ConfigError, Settings
from bot.core.liveness import Replica
from bot.core.records import ApprovalStatus
from bot.runtime.httpserver import RunningServer, ServerLimits, serve_in_thread
from bot.runtime.lease import Lease
from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import Jobs
from bot.runtime.web import WebApp
from bot.runtime.workers import WorkProcess
from bot.slack.chat import Outbox
from bot.slack.home import register_home
from bot.slack.ingress import GatedSocketModeHandler, Ingress, ResponseUrls, SeenGroups
from bot.slack.listeners import InProcess, build_app, register
from bot.slack.work import WorkPool
from bot.storage.store import Store
from bot.storage.watch_store import WatchStore
from bot.usecases import (
    Dispatcher,
    approvals,
    operations,
    retention,
    usage,
    usage_digest,
    watch,
)
from bot.wiring import Collaborators, Uses, replica_name, utcnow, wire, work_side

log = logging.getLogger("bot")
Clock = Callable[[], datetime]


@dataclass
class Bot:
    """One running bot: everything wired, nothing started until `start()`."""

    settings: Settings
    store: Store
    tpu: Any
    client: WebClient
    dispatcher: Dispatcher
    app: App
    metrics: Metrics
    jobs: Jobs
    work: WorkPool
    watch: WatchStore
    clock: Clock
    web: RunningServer | None = None
    started_at: datetime | None = None
    socket: SocketModeHandler | None = None
    stopping: bool = False

    def ready(self) -> tuple[bool, str]:
        """Can this replica serve Slack? The database and the Slack side only: never the TPU
        API, which every replica shares (a TPU outage is a degraded notice and a metric)."""
        if self.stopping:
            return False, "shutting down"
        try:
            self.store.ping()
        except (SQLAlchemyError, OSError) as exc:
            return False, f"database: {exc.__class__.__name__}"
        if self.settings.socket_mode and (
            self.socket is None or not self.socket.client.is_connected()
        ):
            return False, "slack: Socket Mode is not connected"
        return True, "ok"

    def health(self) -> dict[str, Any]:
        """What /healthz reports beside its 200: the watcher's last good tick, the TPU API's
        state, leader or standby. Read from the database; a failure there is reported too."""
        detail: dict[str, Any] = {
            "mode": "socket" if self.settings.socket_mode else "http",
            "stopping": self.stopping,
        }
        work_process = getattr(self.work.backend, "pid", None)
        if work_process is not None:
            detail["work_process"] = work_process
        try:
            status = self.watch.status()
            lease = self.jobs.lease
            holder = lease and self.store.lease_holder(lease.name, self.clock())
        except (SQLAlchemyError, OSError) as exc:
            detail["database"] = f"unreachable ({exc.__class__.__name__})"
            return detail
        last_poll = status.last_poll
        detail["last_poll"] = last_poll.isoformat() if last_poll else None
        limit = timedelta(seconds=3 * self.settings.bot.watch.poll_seconds)
        since = last_poll or self.started_at
        stale = since is not None and self.clock() - since > limit
        detail["watcher"] = "stale" if stale else ("ok" if last_poll else "not yet polled")
        detail["tpu_api"] = "degraded" if status.degraded else "ok"
        detail["role"] = "leader" if lease is not None and holder == lease.holder else "standby"
        return detail

    def start(
        self, host: str = "127.0.0.1", port: int | None = None, scheduler: bool = True
    ) -> Bot:
        """Connect (Socket Mode) or listen (HTTP, port 0 = any free port), then run the jobs."""
        env = self.settings.env
        if self.settings.socket_mode:
            token = env.SLACK_APP_TOKEN
            assert token is not None
            self.socket = GatedSocketModeHandler(self.app, token.get_secret_value(), self.work.gate)
            self.socket.connect()
        limits = ServerLimits(
            threads=env.TPUBOT_HTTP_THREADS,
            connection_limit=env.TPUBOT_HTTP_CONNECTION_LIMIT,
            channel_timeout=env.TPUBOT_HTTP_IDLE_TIMEOUT_SECONDS,
            max_body_bytes=env.TPUBOT_HTTP_MAX_BODY_BYTES,
        )
        slack = None if self.settings.socket_mode else self.app
        web = WebApp(
            slack,
            self.metrics,
            self.ready,
            self.health,
            limits.max_body_bytes,
            gate=self.work.gate,
        )
        self.web = serve_in_thread(
            web, host, env.PORT if port is None else port, name="tpu-bot-web", limits=limits
        )
        self.metrics.http_queue_depth.set_function(self.web.queue_depth)
        if slack is not None:
            self.work.gate.pending = self.web.queue_depth
        self.work.start()
        if scheduler:
            self.started_at = self.clock()
            self.jobs.start()
        return self

    @property
    def url(self) -> str:
        assert self.web is not None
        return self.web.url

    def close(self, timeout: float | None = None) -> bool:
        """Stop within `timeout` s (TPUBOT_SHUTDOWN_SECONDS): readiness goes 503, the HTTP
        server stops taking requests and finishes those in flight; then, side by side, the
        scheduler finishes its running job and releases the lease (a standby takes over at
        once) while the work pool finishes queued work. True if everything finished."""
        budget = self.settings.env.TPUBOT_SHUTDOWN_SECONDS if timeout is None else timeout
        deadline = time.monotonic() + budget
        self.stopping = True
        clean = True
        if self.web is not None:
            clean &= self.web.close(timeout=max(0.0, min(10.0, deadline - time.monotonic())))
        if self.socket is not None:
            self.socket.close()
        stops = [
            _in_thread(self.jobs.shutdown, "tpu-bot-stop-jobs"),
            _in_thread(self.work.shutdown, "tpu-bot-stop-work"),
        ]
        for stop in stops:
            stop.join(timeout=max(0.0, deadline - time.monotonic()))
            if stop.is_alive():
                log.warning("shutdown: %s did not finish in %.0f s", stop.name, budget)
                clean = False
        if clean:
            self.store.close()
        return clean


def _in_thread(job: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=job, name=name, daemon=True)
    thread.start()
    return thread


def _work_pool(
    settings: Settings,
    dispatcher: Dispatcher,
    directory: SeenGroups,
    metrics: Metrics,
    clock: Clock,
    *,
    in_process: bool,
) -> WorkPool:
    """The bounded pool behind the listeners; its work in a child process unless the config
    says otherwise (`limits.work_process`) or the bot was given collaborators to use."""
    limits = settings.bot.limits
    backend: InProcess | WorkProcess
    if limits.work_process and not in_process:
        workers = limits.workers or 8
        backend = WorkProcess(settings, workers, work_side, metrics, directory)
    else:
        workers = limits.workers or 2
        backend = InProcess(dispatcher, clock)
    return WorkPool(backend, workers, limits.queue_size, metrics)


def build(
    settings: Settings,
    *,
    clock: Clock = utcnow,
    tpu: Any = None,
    compute: Any = None,
    usage_api: Any = None,
) -> Bot:
    """Wire a bot from settings; collaborators may be passed in (tests, demo). A bot given its
    clock or a client works on its own threads: a work process cannot share them."""
    env, config = settings.env, settings.bot
    given = Collaborators(tpu, compute, usage_api)
    injected = given.any or clock is not utcnow
    if env.SLACK_BOT_TOKEN is None:
        raise ConfigError("SLACK_BOT_TOKEN is required (the bot token, xoxb-...)")
    if not settings.socket_mode and env.SLACK_SIGNING_SECRET is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    metrics = Metrics()
    replica = Replica(replica_name(settings), uuid.uuid4().hex[:12])
    # With a work process, people's commands run there, on clients of its own.
    elsewhere = config.limits.work_process and not injected
    wired = wire(settings, metrics.tpu_call, replica, given, Uses.JOBS if elsewhere else Uses.BOTH)
    deps, store, watch_store, directory = wired.deps, wired.store, wired.watch, wired.directory
    liveness, client = wired.liveness, wired.client
    # With a work process this dispatcher runs nobody's commands (the child's does): it is
    # kept for a bot whose work runs in-process (tests, the demo), with the commands' clients.
    dispatcher = Dispatcher(wired.commands)
    drainer = clients.drainer(settings, watch_store.outbox, metrics)
    secret = None if settings.socket_mode else env.SLACK_SIGNING_SECRET
    app = build_app(client, secret.get_secret_value() if secret else None)
    work = _work_pool(settings, dispatcher, directory, metrics, clock, in_process=injected)
    ingress = Ingress(
        config.limits,
        config.roles,
        work,
        ResponseUrls(env.SLACK_API_URL),
        metrics=metrics,
        audit=deps.audit,
        seen=directory,
        tell=lambda user, text: Outbox(watch_store.outbox).tell(user, text, now=clock()),
        clock=clock,
        # The bot's clock: a test's clock moves the limits too.
        seconds=lambda: clock().timestamp(),
    )
    register_home(app, ingress)  # before the message listeners (see home.py)
    register(app, dispatcher, clock, ingress, metrics)
    # Replicas share the database; the one holding the lease runs the scheduled jobs.
    jobs = Jobs(clock, metrics, Lease(store, config.watch.lease_seconds))
    # Every replica beats; an attempt claimed by one known dead is taken over at once.
    lease = config.watch.lease_seconds
    jobs.add("heartbeat", max(1.0, lease / 3), liveness.beat, leader_only=False)
    jobs.add("expire_approvals", 30, partial(approvals.expire, deps))
    # Approved requests left behind (a crash, a failover, an API outage) are finished here.
    jobs.add("resume_approvals", 15, partial(approvals.resume, deps))
    jobs.add("track_operations", config.watch.operations_seconds, partial(operations.track, deps))

    # The leader's watcher keeps its snapshots in memory between ticks (the database is the
    # durable copy; a replica that becomes leader loads it).
    watcher = watch.Watcher(deps)

    def poll_nodes(now: datetime) -> object:
        report = watcher.tick(now)
        metrics.open_incidents.set(watch_store.count_open())
        pending = store.count_approvals(ApprovalStatus.PENDING)
        metrics.pending_approvals.set(pending)
        metrics.approvals.labels(status="pending").set(pending)
        for status in (ApprovalStatus.APPROVED, ApprovalStatus.EXECUTING):
            metrics.approvals.labels(status=status.value).set(store.count_approvals(status))
        if watch_store.outbox.depth():
            # What the tick found is committed: send it now, not at the drainer's next second.
            jobs.wake("drain_outbox")
        return report

    jobs.add("poll_nodes", watcher.every_seconds, poll_nodes)

    def prune(now: datetime) -> dict[str, int]:
        pruned = retention.prune(deps, now)
        for table, count in pruned.items():
            metrics.pruned.labels(table=table).inc(count)
        return pruned

    jobs.add("prune", 3600, prune)
    # Is anyone using them: idle TPUs named once per route, and the daily digest (checked each
    # minute, posted once a day at its local time).
    jobs.add("idle_sweep", config.watch.idle.check_seconds, partial(usage.sweep, deps))
    jobs.add("usage_digest", 60, partial(usage_digest.digest, deps))
    jobs.add("drain_outbox", 1, drainer.drain)
    return Bot(
        settings, store, deps.tpu, client, dispatcher, app, metrics, jobs, work, watch_store, clock
    )
