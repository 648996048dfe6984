"""The clients the bot calls, built from settings: the Cloud TPU API, Compute Engine and Cloud
Monitoring, each with the configured credentials, timeouts, retries and metrics hook (and the
commands' request budget where given); the outbox drainer's own Slack client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from google.auth.credentials import Credentials
from slack_sdk import WebClient

from bot.config import Settings
from bot.core.budget import RequestBudget
from bot.runtime.metrics import Metrics
from bot.slack.drainer import Caps, OutboxDrainer
from bot.storage.outbox import OutboxStore
from bot.tpu.client import TpuClient, make_credentials
from bot.tpu.compute import ComputeClient
from bot.tpu.monitoring import MonitoringClient
from bot.tpu.recent_usage import RecentUsage

Observer = Callable[[str, str], None]  # (method, status) of every Google API call


def google_credentials(settings: Settings, endpoint: str) -> Credentials:
    """ADC (or the configured key file), impersonating the configured account if any."""
    gcp = settings.bot.gcp
    return make_credentials(
        endpoint,
        impersonate=gcp.impersonate_service_account,
        credentials_file=gcp.credentials_file,
    )


def tpu_client(
    settings: Settings, observer: Observer, budget: RequestBudget | None = None
) -> TpuClient:
    """The Cloud TPU client, each project routed to its configured API version; with a budget,
    the commands' own (the watcher's client has none: the planner paces it)."""
    env, config = settings.env, settings.bot
    credentials = google_credentials(settings, env.TPU_API_ENDPOINT)
    return TpuClient(
        env.TPU_API_ENDPOINT,
        credentials,
        apis={project.id: project.api for project in config.projects},
        timeout=config.gcp.request_timeout_seconds,
        retries=config.gcp.retries,
        observer=observer,
        budget=budget,
    )


def compute_client(
    settings: Settings, observer: Observer, budget: RequestBudget | None = None
) -> ComputeClient | None:
    """Compute Engine's TPU VMs, when some project's sources have compute (the commands' client
    spends the same budget as the TPU API's)."""
    env, config = settings.env, settings.bot
    if not any("compute" in p.sources for p in config.projects):
        return None
    credentials = google_credentials(settings, env.COMPUTE_API_ENDPOINT)
    return ComputeClient(
        env.COMPUTE_API_ENDPOINT,
        credentials,
        timeout=config.gcp.request_timeout_seconds,
        retries=config.gcp.retries,
        observer=observer,
        budget=budget,
    )


def monitoring(settings: Settings, observer: Observer) -> MonitoringClient:
    """Cloud Monitoring, for how busy each TPU is (the same credentials as the TPU API)."""
    env, config = settings.env, settings.bot
    return MonitoringClient(
        env.MONITORING_API_ENDPOINT,
        google_credentials(settings, env.MONITORING_API_ENDPOINT),
        timeout=config.gcp.request_timeout_seconds,
        retries=min(config.gcp.retries, 2),
        observer=observer,
    )


def commands_monitoring(settings: Settings, observer: Observer) -> RecentUsage:
    """Monitoring as people's commands read it: not retried (a card says "usage unknown" rather
    than keep someone waiting), and a question asked again within a minute answered from the
    first read (a burst of the same listing reads Monitoring once)."""
    env, config = settings.env, settings.bot
    client = MonitoringClient(
        env.MONITORING_API_ENDPOINT,
        google_credentials(settings, env.MONITORING_API_ENDPOINT),
        timeout=config.gcp.request_timeout_seconds,
        retries=0,
        observer=observer,
    )
    return RecentUsage(client)


def drainer(settings: Settings, rows: OutboxStore, metrics: Metrics) -> OutboxDrainer:
    """The drainer handles 429, 5xx and dropped connections itself, per message: its client
    does not retry on its own."""
    env = settings.env
    assert env.SLACK_BOT_TOKEN is not None
    client = WebClient(
        token=env.SLACK_BOT_TOKEN.get_secret_value(), base_url=env.SLACK_API_URL, timeout=15
    )
    client.retry_handlers = []
    slack = settings.bot.slack
    return OutboxDrainer(
        client,
        rows,
        metrics,
        recover_from_history=slack.recover_from_history,
        caps=Caps(slack.outbox_max_attempts, timedelta(hours=slack.outbox_max_age_hours)),
    )
