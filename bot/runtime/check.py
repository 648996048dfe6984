"""`tpu-bot check`: is everything the bot needs there? Each problem comes with how to fix it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from google.auth.exceptions import GoogleAuthError
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import SQLAlchemyError

from bot.config import ConfigError, Settings, load_settings
from bot.slack.chat import make_web_client
from bot.storage.store import Store
from bot.tpu.client import PermissionDenied, TpuClient, TpuError, make_credentials


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    detail: str = ""


def run_checks(
    environ: Mapping[str, str] | None = None,
    make_tpu: Callable[[Settings], TpuClient] | None = None,
) -> list[Finding]:
    try:
        settings = load_settings(environ)
    except ConfigError as exc:
        return [Finding(False, "configuration", str(exc))]
    findings = [Finding(True, "configuration", f"{len(settings.bot.projects)} projects")]
    env = settings.env
    if env.SLACK_BOT_TOKEN is None:
        findings.append(Finding(False, "Slack", "SLACK_BOT_TOKEN is not set (the xoxb- token)"))
    else:
        client = make_web_client(env.SLACK_BOT_TOKEN.get_secret_value(), env.SLACK_API_URL, 0)
        try:
            auth = client.auth_test()
            findings.append(Finding(True, "Slack", f"auth.test ok as {auth.get('user')}"))
        except SlackApiError as exc:
            findings.append(
                Finding(
                    False,
                    "Slack",
                    f"auth.test: {exc.response.get('error')}: "
                    "check SLACK_BOT_TOKEN and that the app is installed",
                )
            )
        except (SlackClientError, OSError) as exc:
            findings.append(
                Finding(
                    False, "Slack", f"{env.SLACK_API_URL} unreachable ({exc.__class__.__name__})"
                )
            )
    if not settings.socket_mode and env.SLACK_SIGNING_SECRET is None:
        findings.append(
            Finding(
                False,
                "Slack",
                "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)",
            )
        )
    try:
        if make_tpu is not None:
            tpu = make_tpu(settings)
        else:
            credentials = make_credentials(
                env.TPU_API_ENDPOINT,
                impersonate=settings.bot.gcp.impersonate_service_account,
                credentials_file=settings.bot.gcp.credentials_file,
            )
            tpu = TpuClient(env.TPU_API_ENDPOINT, credentials, retries=1, timeout=15)
    except (GoogleAuthError, OSError, ValueError) as exc:
        findings.append(
            Finding(
                False,
                "TPU API",
                f"no credentials: {exc}. Run `gcloud auth "
                "application-default login`, or use Workload Identity",
            )
        )
        return [*findings, _database(settings)]
    for project in settings.bot.projects:
        try:
            listing = tpu.list_nodes(project.id, project.locations)
            partial = (
                f", no answer from {len(listing.unreachable)} zones" if listing.unreachable else ""
            )
            findings.append(
                Finding(True, f"TPU API {project.id}", f"{len(listing.nodes)} nodes{partial}")
            )
        except PermissionDenied as exc:
            findings.append(
                Finding(
                    False,
                    f"TPU API {project.id}",
                    f"{exc.message} Grant the "
                    "bot's service account roles/tpu.viewer (roles/tpu.admin to "
                    "act) on the project",
                )
            )
        except TpuError as exc:
            findings.append(Finding(False, f"TPU API {project.id}", f"{exc.status}: {exc.message}"))
    findings.append(_database(settings))
    return findings


def _database(settings: Settings) -> Finding:
    try:
        store = Store(settings.env.TPUBOT_DATABASE_URL)
        store.ping()
        store.close()
    except (SQLAlchemyError, OSError) as exc:
        return Finding(False, "database", f"{exc.__class__.__name__}: check TPUBOT_DATABASE_URL")
    return Finding(True, "database", "reachable, schema up to date")
