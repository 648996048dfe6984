"""build(settings): the one place where the bot's objects are wired; the running Bot."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.config import ConfigError, Settings
from bot.core.policy import groups_in
from bot.core.records import ApprovalStatus
from bot.runtime.httpserver import RunningServer, serve_in_thread
from bot.runtime.lease import Lease
from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import Jobs
from bot.runtime.web import WebApp
from bot.slack.chat import Outbox, make_web_client
from bot.slack.directory import SlackDirectory
from bot.slack.drainer import OutboxDrainer
from bot.slack.listeners import WorkPool, build_app, register
from bot.storage.store import Store
from bot.storage.watch_store import WatchStore
from bot.tpu.client import TpuClient, make_credentials
from bot.usecases import Deps, Dispatcher, approvals, operations, watch

log = logging.getLogger("bot")
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


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

    def ready(self) -> tuple[bool, str]:
        try:
            self.store.ping()
            last_poll = self.watch.get("last_poll")
        except (SQLAlchemyError, OSError) as exc:
            return False, f"database: {exc.__class__.__name__}"
        if self.started_at is not None:
            # Three poll intervals without a completed tick: the watcher is stuck or cut off.
            limit = timedelta(seconds=3 * self.settings.bot.watch.poll_seconds)
            last = (
                max(self.started_at, datetime.fromisoformat(last_poll))
                if last_poll
                else self.started_at
            )
            if self.clock() - last > limit:
                return False, f"no completed node poll since {last.isoformat()}"
        return True, "ok"

    def start(
        self, host: str = "127.0.0.1", port: int | None = None, scheduler: bool = True
    ) -> Bot:
        slack_http = None
        if self.settings.socket_mode:
            token = self.settings.env.SLACK_APP_TOKEN
            assert token is not None
            self.socket = SocketModeHandler(self.app, token.get_secret_value())
            self.socket.connect()
        else:
            slack_http = SlackRequestHandler(self.app)
        web = WebApp(slack_http, self.metrics, self.ready)
        self.web = serve_in_thread(
            web, host, self.settings.env.PORT if port is None else port, name="tpu-bot-web"
        )
        if scheduler:
            self.started_at = self.clock()
            self.jobs.start()
        return self

    @property
    def url(self) -> str:
        assert self.web is not None
        return self.web.url

    def close(self) -> None:
        self.jobs.shutdown()
        if self.socket is not None:
            self.socket.close()
        if self.web is not None:
            self.web.close()
        self.work.shutdown()
        self.store.close()


def build(settings: Settings, *, clock: Clock = utcnow, tpu: Any = None) -> Bot:
    """Wire a bot from settings; collaborators may be passed in (tests, demo)."""
    env, config = settings.env, settings.bot
    if env.SLACK_BOT_TOKEN is None:
        raise ConfigError("SLACK_BOT_TOKEN is required (the bot token, xoxb-...)")
    if not settings.socket_mode and env.SLACK_SIGNING_SECRET is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    metrics = Metrics()
    store = Store(env.TPUBOT_DATABASE_URL)
    if tpu is None:
        credentials = make_credentials(
            env.TPU_API_ENDPOINT,
            impersonate=config.gcp.impersonate_service_account,
            credentials_file=config.gcp.credentials_file,
        )
        tpu = TpuClient(
            env.TPU_API_ENDPOINT,
            credentials,
            apis={project.id: project.api for project in config.projects},
            timeout=config.gcp.request_timeout_seconds,
            retries=config.gcp.retries,
            observer=metrics.tpu_call,
        )
    client = make_web_client(env.SLACK_BOT_TOKEN.get_secret_value(), env.SLACK_API_URL)
    directory = SlackDirectory(client, groups_in(config.roles))
    watch_store = WatchStore(store)
    deps = Deps(config, tpu, store, directory, watch_store, Outbox(watch_store))
    dispatcher = Dispatcher(deps)
    # The drainer handles 429, 5xx and dropped connections itself, per message.
    drain_client = WebClient(
        token=env.SLACK_BOT_TOKEN.get_secret_value(), base_url=env.SLACK_API_URL, timeout=15
    )
    drain_client.retry_handlers = []
    drainer = OutboxDrainer(
        drain_client,
        watch_store,
        metrics,
        recover_from_history=config.slack.recover_from_history,
    )
    secret = None if settings.socket_mode else env.SLACK_SIGNING_SECRET
    app = build_app(client, secret.get_secret_value() if secret else None)
    work = WorkPool()
    register(app, dispatcher, clock, work, metrics)
    # Replicas share the database; the one holding the lease runs the scheduled jobs.
    jobs = Jobs(clock, metrics, Lease(store, config.watch.lease_seconds))
    jobs.add("expire_approvals", 30, partial(approvals.expire, deps))
    # Approved requests left behind (a crash, a failover, an API outage) are finished here.
    jobs.add("resume_approvals", 15, partial(approvals.resume, deps))
    jobs.add("track_operations", config.watch.operations_seconds, partial(operations.track, deps))

    def poll_nodes(now: datetime) -> object:
        report = watch.poll(deps, now)
        metrics.open_incidents.set(watch_store.count_open())
        pending = store.count_approvals(ApprovalStatus.PENDING)
        metrics.pending_approvals.set(pending)
        metrics.approvals.labels(status="pending").set(pending)
        for status in (ApprovalStatus.APPROVED, ApprovalStatus.EXECUTING):
            metrics.approvals.labels(status=status.value).set(store.count_approvals(status))
        return report

    jobs.add("poll_nodes", config.watch.poll_seconds, poll_nodes)
    jobs.add("drain_outbox", 1, drainer.drain)
    return Bot(
        settings, store, tpu, client, dispatcher, app, metrics, jobs, work, watch_store, clock
    )
