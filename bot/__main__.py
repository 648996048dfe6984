"""The `tpu-bot` command line, and the one place where objects are wired together."""

from __future__ import annotations

import logging
import signal
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import yaml
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.config import ConfigError, Settings, load_settings, secrets_to_mask
from bot.directory import SlackDirectory
from bot.emulator import Emulator
from bot.emulator.server import EmulatorApp
from bot.httpserver import RunningServer, make_wsgi_server, serve_in_thread
from bot.lease import Lease
from bot.logs import configure as configure_logging
from bot.metrics import Metrics
from bot.models import ApprovalStatus
from bot.notifier import Outbox, OutboxDrainer, SlackChat, make_web_client
from bot.policy import groups_in
from bot.scheduler import Jobs
from bot.service import Deps, Service
from bot.slack_app import WorkPool, build_app, register
from bot.store import Store, WatchStore
from bot.tpu import TpuClient, make_credentials
from bot.web import WebApp

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
    service: Service
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
            timeout=config.gcp.request_timeout_seconds,
            retries=config.gcp.retries,
            observer=metrics.tpu_call,
        )
    client = make_web_client(env.SLACK_BOT_TOKEN.get_secret_value(), env.SLACK_API_URL)
    directory = SlackDirectory(client, groups_in(config.roles))
    watch = WatchStore(store)
    service = Service(
        Deps(config, tpu, store, SlackChat(client, metrics), directory, watch, Outbox(watch))
    )
    # The drainer handles 429, 5xx and dropped connections itself, per message.
    drain_client = WebClient(
        token=env.SLACK_BOT_TOKEN.get_secret_value(), base_url=env.SLACK_API_URL, timeout=15
    )
    drain_client.retry_handlers = []
    drainer = OutboxDrainer(drain_client, watch, metrics)
    secret = None if settings.socket_mode else env.SLACK_SIGNING_SECRET
    app = build_app(client, secret.get_secret_value() if secret else None)
    work = WorkPool()
    register(app, service, clock, work, metrics)
    # Replicas share the database; the one holding the lease runs the scheduled jobs.
    jobs = Jobs(clock, metrics, Lease(store, config.watch.lease_seconds))
    jobs.add("expire_approvals", 30, service.expire_approvals)
    jobs.add("track_operations", config.watch.operations_seconds, service.track_operations)

    def poll_nodes(now: datetime) -> object:
        report = service.poll_nodes(now)
        metrics.open_incidents.set(watch.count_open())
        metrics.pending_approvals.set(store.count_approvals(ApprovalStatus.PENDING))
        return report

    jobs.add("poll_nodes", config.watch.poll_seconds, poll_nodes)
    jobs.add("drain_outbox", 1, drainer.drain)
    return Bot(settings, store, tpu, client, service, app, metrics, jobs, work, watch, clock)


def _stop_on_signals(stop: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())


@click.group()
@click.option("--log-level", default="INFO", show_default=True)
@click.option("--log-json", is_flag=True, help="One JSON object per log line.")
def cli(log_level: str, log_json: bool) -> None:
    """tpu-bot: Cloud TPU nodes from Slack."""
    configure_logging(log_level, log_json, secrets_to_mask())


def _run_emulator(
    host: str, port: int, fleet: int, projects: int, op_seconds: float, clean: bool = False
) -> Any:
    emulator = Emulator(fleet=fleet, projects=projects, op_seconds=op_seconds, clean=clean)
    return emulator, make_wsgi_server(EmulatorApp(emulator), host, port)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8470, show_default=True, type=int)
@click.option("--fleet", default=0, show_default=True, type=int, help="Seed this many nodes.")
@click.option("--projects", default=3, show_default=True, type=int, help="Spread over this many.")
@click.option("--op-seconds", default=5.0, show_default=True, type=float)
@click.option("--clean", is_flag=True, help="Seed every node READY and HEALTHY.")
def emulator(
    host: str, port: int, fleet: int, projects: int, op_seconds: float, clean: bool
) -> None:
    """Serve a local Cloud TPU v1alpha1 API."""
    emu, server = _run_emulator(host, port, fleet, projects, op_seconds, clean)
    url = f"http://{server.server_address[0]}:{server.server_address[1]}"
    click.echo(f"TPU API emulator on {url}/v1alpha1/ with {len(emu.node_names())} nodes")
    click.echo(f"  admin: {url}/emulator/v1/stats | /faults | /reset | NODE:inject")
    _serve_until_signal(server)


def _serve_until_signal(server: Any) -> None:
    stop = threading.Event()
    _stop_on_signals(stop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()
    server.server_close()


DEMO_PEOPLE = {
    "U0VERA": ("vera", "viewer", ()),
    "U0OTTO": ("otto", "operator", ("S0PLATFORM",)),
    "U0ADA": ("ada", "approver", ("S0ONCALL",)),
    "U0ABE": ("abe", "approver", ("S0ONCALL",)),
    "U0ROOT": ("root", "admin", ()),
}
DEMO_CONFIG: dict[str, Any] = {
    "projects": [
        {"id": "ml-prod"},
        {"id": "ml-research"},
        {"id": "ml-sandbox", "locations": ["us-central1-b", "us-central1-c", "europe-west4-a"]},
    ],
    "channels": {"alerts": "C0ALERTS", "approvals": "C0ONCALL"},
    "routes": [
        {"match": {"project": "ml-research", "labels": {"team": "vision"}}, "channel": "C0VISION"}
    ],
    "roles": {
        "viewer": ["*"],
        "operator": ["S0PLATFORM"],
        "approver": ["S0ONCALL"],
        "admin": ["U0ROOT"],
    },
    "approvals": {"ttl_minutes": 30},
    "watch": {"poll_seconds": 5, "operations_seconds": 2, "storm_threshold": 5},
}


@dataclass
class Demo:
    """Everything `tpu-bot demo` runs, in one process."""

    emulator: Emulator
    emulator_server: RunningServer
    slack: Any
    bot: Bot
    workdir: Path
    stop_chaos: threading.Event

    @property
    def url(self) -> str:
        return str(self.slack.url)

    def close(self) -> None:
        self.stop_chaos.set()
        self.bot.close()
        self.slack.close()
        self.emulator_server.close()


def start_demo(
    port: int = 8080,
    *,
    chaos_every: float | None = None,
    fleet: int = 36,
    op_seconds: float = 5.0,
    database_url: str | None = None,
) -> Demo:
    """The embedded default: emulator, localslack with its page, and the bot, nothing external."""
    # Only the demo reaches for the local stand-ins; serve never imports them.
    from bot.emulator.server import serve as serve_emulator
    from bot.localslack import BOT_TOKEN, SIGNING_SECRET, LocalSlack
    from bot.localslack.page import DemoPage, emulator_chaos

    emulator = Emulator(fleet=fleet, projects=3, op_seconds=op_seconds)
    emulator_server = serve_emulator(emulator)
    scopes = {p["id"]: p.get("locations", ["-"]) for p in DEMO_CONFIG["projects"]}

    def watched(name: str) -> bool:
        project, zone = name.split("/")[1], name.split("/")[3]
        return project in scopes and ("-" in scopes[project] or zone in scopes[project])

    chaos = emulator_chaos(emulator, watched)
    page = DemoPage(chaos, {uid: role for uid, (_, role, _) in DEMO_PEOPLE.items()})
    slack = LocalSlack(extra_app=page).start(port=port)
    page.attach(slack)
    slack.workspace.add_channel("C0VISION", "vision-alerts")
    for uid, (name, _, groups) in DEMO_PEOPLE.items():
        slack.workspace.add_user(uid, name, groups)
    workdir = Path(tempfile.mkdtemp(prefix="tpubot-demo-"))
    (workdir / "tpubot.yaml").write_text(yaml.safe_dump(DEMO_CONFIG))
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "TPU_API_ENDPOINT": emulator_server.url,
            "TPUBOT_CONFIG": str(workdir / "tpubot.yaml"),
            "TPUBOT_DATABASE_URL": database_url or f"sqlite:///{workdir / 'tpubot.db'}",
        }
    )
    bot = build(settings).start(port=0)
    slack.bot_url = bot.url + "/slack/events"
    stop = threading.Event()
    if chaos_every:

        def chaos_loop() -> None:
            actions = ["preempt", "unhealthy", "symptom", "preempt", "heal"]
            i = 0
            while not stop.wait(chaos_every):
                log.info("chaos: %s", chaos(actions[i % len(actions)]))
                i += 1

        threading.Thread(target=chaos_loop, daemon=True, name="chaos").start()
    return Demo(emulator, emulator_server, slack, bot, workdir, stop)


@cli.command()
@click.option("--port", default=8080, show_default=True, type=int, help="The local Slack page.")
@click.option("--chaos", is_flag=True, help="Break and heal nodes every 20 s on its own.")
def demo(port: int, chaos: bool) -> None:
    """Everything local: TPU API emulator, the bot, and a Slack-like page to drive it."""
    running = start_demo(port, chaos_every=20.0 if chaos else None)
    click.echo(f"tpu-bot demo: open {running.url}/ in a browser")
    click.echo(
        f"  TPU API emulator: {running.emulator_server.url}/v1alpha1/  "
        f"({len(running.emulator.node_names())} nodes)"
    )
    click.echo(f"  bot: {running.bot.url}/slack/events, health {running.bot.url}/healthz")
    click.echo("  try `/tpu list` as otto (operator), stop a node, approve it as ada (approver);")
    click.echo(
        "  the chaos buttons preempt nodes and the alerts land in #tpu-alerts. Ctrl-C stops."
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    stop.wait()
    running.close()


@cli.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP mode listen address.")
def serve(host: str) -> None:
    """Run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT)."""
    try:
        bot = build(load_settings())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    bot.start(host=host)
    mode = "Socket Mode" if bot.settings.socket_mode else f"HTTP on {bot.url}/slack/events"
    log.info("tpu-bot serving (%s); health on %s/healthz", mode, bot.url)
    stop = threading.Event()
    _stop_on_signals(stop)
    stop.wait()
    bot.close()


@cli.command()
def check() -> None:
    """Check the configuration, Slack, the TPU API per project and the database."""
    from bot.check import run_checks

    findings = run_checks()
    for finding in findings:
        mark = "ok  " if finding.ok else "FAIL"
        click.echo(f"{mark} {finding.what}: {finding.detail}")
    if not all(f.ok for f in findings):
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="tpu-bot")


if __name__ == "__main__":
    main()
