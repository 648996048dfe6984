"""The `tpu-bot` command line: serve, check, and the local stand-ins (emulator, demo)."""

from __future__ import annotations

import errno
import faulthandler
import logging
import os
import signal
import sys
import threading
import urllib.error
from typing import Any

import click

from bot.app import Bot, build
from bot.config import ConfigError, load_settings, secrets_to_mask
from bot.runtime.logs import configure as configure_logging

log = logging.getLogger("bot")


def _stop_on_signals(stop: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())


@click.group()
@click.option("--log-level", default="INFO", show_default=True)
@click.option("--log-json", is_flag=True, help="One JSON object per log line.")
def cli(log_level: str, log_json: bool) -> None:
    """tpu-bot: Cloud TPU nodes from Slack."""
    configure_logging(log_level, log_json, secrets_to_mask())


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
    # Only this command and `demo` reach for the local stand-ins; serve never imports them.
    from tpu_emulator import Emulator, EmulatorApp
    from tpu_emulator.http import make_wsgi_server

    emu = Emulator(fleet=fleet, projects=projects, op_seconds=op_seconds, clean=clean)
    server = make_wsgi_server(EmulatorApp(emu), host, port)
    url = f"http://{server.server_address[0]!s}:{server.server_address[1]}"
    click.echo(f"TPU API emulator on {url}/v1alpha1/ with {len(emu.node_names())} nodes")
    click.echo(
        f"  also: Cloud TPU {url}/v1/ and {url}/v2/, Compute Engine {url}/compute/v1/ "
        f"({emu.stats_json()['instances']} TPU instances), Cloud Monitoring {url}/v3/"
    )
    click.echo(f"  admin: {url}/emulator/v1/stats | /faults | /reset | NAME:inject")
    _serve_until_signal(server)


def _serve_until_signal(server: Any) -> None:
    stop = threading.Event()
    _stop_on_signals(stop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()
    server.server_close()


@cli.command()
@click.option("--port", default=8080, show_default=True, type=int, help="The local Slack page.")
@click.option("--chaos", is_flag=True, help="Break and heal nodes every 20 s on its own.")
def demo(port: int, chaos: bool) -> None:
    """Everything local: TPU API emulator, the bot, and a Slack-like page to drive it."""
    from devstack.demo import start_demo

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


def startup_failure(exc: BaseException) -> str | None:
    """One line naming what stopped `serve` from starting and how to fix it (None: a bug)."""
    from google.auth.exceptions import GoogleAuthError
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError
    from sqlalchemy.exc import SQLAlchemyError

    name = exc.__class__.__name__
    if isinstance(exc, ConfigError):
        return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if isinstance(exc, GoogleAuthError):
        return (
            f"Google credentials: {name}. Fix: use Workload Identity or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a key file (locally: gcloud auth "
            "application-default login), or gcp.credentials_file in the config"
        )
    if isinstance(exc, SQLAlchemyError):
        return (
            f"database unreachable ({name}). Fix: check TPUBOT_DATABASE_URL and that the "
            "database server is up and lets this pod in"
        )
    if isinstance(exc, BoltError | SlackApiError):
        api_error = exc if isinstance(exc, SlackApiError) else exc.__context__
        error = getattr(getattr(api_error, "response", None), "data", None) or {}
        reason = error.get("error") if isinstance(error, dict) else None
        return (
            f"Slack refused the token ({reason or 'auth.test failed'}). Fix: set "
            "SLACK_BOT_TOKEN (xoxb-...) and, for Socket Mode, SLACK_APP_TOKEN (xapp-...) "
            "from the app's settings; reinstall the app if it was revoked"
        )
    if isinstance(exc, SlackClientError | urllib.error.URLError | ConnectionError | TimeoutError):
        return (
            f"Slack unreachable ({name}). Fix: check SLACK_API_URL (unset = Slack's) and "
            "that the pod may reach it (egress, proxy)"
        )
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return "port in use: another process listens on $PORT. Fix: set PORT or stop that one"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
        return f"cannot listen ({exc.strerror}). Fix: use a port above 1024 and a local --host"
    return None


class _HoldLibraryLogs(logging.Filter):
    """Holds the libraries' log records during start-up: they are logged if the bot starts and
    dropped if it cannot (the one line that says why is what the operator needs)."""

    LIBRARIES = ("slack_bolt", "slack_sdk", "google", "sqlalchemy", "waitress", "urllib3")

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] in self.LIBRARIES:
            self.held.append(record)
            return False
        return True

    def __enter__(self) -> _HoldLibraryLogs:
        for handler in logging.getLogger().handlers:
            handler.addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self)

    def release(self) -> None:
        for record in self.held:
            logging.getLogger(record.name).handle(record)


def _start(host: str) -> Bot:
    with _HoldLibraryLogs() as hold:
        try:
            bot = build(load_settings()).start(host=host)
        except Exception as exc:
            message = startup_failure(exc)
            if message is None:
                raise
            log.debug("start-up failed", exc_info=True)
            raise click.ClickException(f"cannot start: {message}") from None
    hold.release()
    return bot


@cli.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP mode listen address.")
def serve(host: str) -> None:
    """Run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT).

    SIGTERM or SIGINT: readiness turns 503, then the bot stops within TPUBOT_SHUTDOWN_SECONDS
    (requests in flight and queued work finish, the leader lease is released); a second
    signal exits at once."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            os._exit(128 + signum)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    bot = _start(host)
    mode = "Socket Mode" if bot.settings.socket_mode else f"HTTP on {bot.url}/slack/events"
    log.info("tpu-bot serving (%s); health on %s/healthz", mode, bot.url)
    stop.wait()
    env = bot.settings.env
    log.info("tpu-bot stopping (within %.0f s)", env.TPUBOT_SHUTDOWN_SECONDS)
    bot.stopping = True  # readiness 503 at once; keep answering for the delay
    threading.Event().wait(env.TPUBOT_SHUTDOWN_DELAY_SECONDS)
    clean = bot.close()
    log.info("tpu-bot stopped%s", "" if clean else " (some work did not finish in time)")
    if not clean:
        # Say where the work is stuck; threads still at it would hold the interpreter open past
        # the grace period.
        faulthandler.dump_traceback(sys.stderr, all_threads=True)
        logging.shutdown()
        os._exit(1)


@cli.command()
def check() -> None:
    """Check the configuration, Slack, the TPU API per project and the database."""
    from bot.runtime.check import run_checks

    findings = run_checks()
    for finding in findings:
        mark = "ok  " if finding.ok else "FAIL"
        click.echo(f"{mark} {finding.what}: {finding.detail}")
    if not all(f.ok for f in findings):
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="tpu-bot")
