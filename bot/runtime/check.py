"""`tpu-bot check`: is everything the bot needs there? Each problem comes with how to fix it.

It only reads: auth.test, conversations.info and usergroups.users.list on Slack, one node list per
project (one instance list per project whose sources have compute), and the schema version of the
database (which it never creates nor migrates).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.request import pathname2url

import sqlalchemy as sa
from google.auth.exceptions import GoogleAuthError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.config import BotConfig, ConfigError, Settings, load_settings
from bot.runtime.check_compute import compute_findings
from bot.slack.chat import make_web_client
from bot.storage.schema import MIGRATIONS, normalize_url, schema_version
from bot.tpu.client import PermissionDenied, TpuClient, TpuError, make_credentials

INVITE = "type `/invite @tpu-bot` in that channel"


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
    findings += _slack(settings)
    findings += _tpu(settings, make_tpu)
    findings += [Finding(*found) for found in compute_findings(settings)]
    findings.append(_database(settings))
    return findings


# ----- Slack ---------------------------------------------------------------------------------


def _slack(settings: Settings) -> list[Finding]:
    env = settings.env
    findings: list[Finding] = []
    if not settings.socket_mode and env.SLACK_SIGNING_SECRET is None:
        findings.append(
            Finding(
                False,
                "Slack",
                "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)",
            )
        )
    if env.SLACK_BOT_TOKEN is None:
        return [Finding(False, "Slack", "SLACK_BOT_TOKEN is not set (the xoxb- token)"), *findings]
    client = make_web_client(env.SLACK_BOT_TOKEN.get_secret_value(), env.SLACK_API_URL, 0)
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        detail = f"auth.test: {error}: check SLACK_BOT_TOKEN and that the app is installed"
        return [Finding(False, "Slack", detail), *findings]
    except (SlackClientError, OSError) as exc:
        detail = f"{env.SLACK_API_URL} unreachable ({exc.__class__.__name__})"
        return [Finding(False, "Slack", detail), *findings]
    findings.insert(0, Finding(True, "Slack", f"auth.test ok as {auth.get('user')}"))
    findings += _channels(client, settings.bot)
    findings += _groups(client, settings.bot)
    if settings.bot.slack.recover_from_history:
        findings.append(_history(client, settings.bot.channels.alerts))
    return findings


def configured_channels(config: BotConfig) -> dict[str, list[str]]:
    """Each channel the bot posts to, and the config fields that name it."""
    named: dict[str, list[str]] = {}
    named.setdefault(config.channels.alerts, []).append("channels.alerts")
    named.setdefault(config.channels.approvals, []).append("channels.approvals")
    for i, route in enumerate(config.routes):
        named.setdefault(route.channel, []).append(f"routes[{i}].channel")
    return named


def _channels(client: WebClient, config: BotConfig) -> list[Finding]:
    named = configured_channels(config)
    findings = []
    for channel, fields in named.items():
        where = f"{channel} ({', '.join(fields)})"
        try:
            info = client.conversations_info(channel=channel)["channel"]
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error == "missing_scope":
                return [_channels_not_checked(named)]
            fix = (
                "check the id (channel details, at the bottom); a private channel is visible "
                f"only to members: {INVITE}"
                if error == "channel_not_found"
                else "see https://api.slack.com/methods/conversations.info"
            )
            findings.append(Finding(False, f"Slack channel {channel}", f"{where}: {error}: {fix}"))
            continue
        except (SlackClientError, OSError) as exc:
            detail = f"{where}: conversations.info failed ({exc.__class__.__name__})"
            findings.append(Finding(False, f"Slack channel {channel}", detail))
            continue
        name = f"#{info.get('name', channel)} {where}"
        if info.get("is_member"):
            findings.append(Finding(True, f"Slack channel {channel}", f"{name}: the bot is in it"))
        else:
            detail = f"{name}: the bot is not a member, so it cannot post there: {INVITE}"
            findings.append(Finding(False, f"Slack channel {channel}", detail))
    return findings


def _channels_not_checked(named: Mapping[str, list[str]]) -> Finding:
    """Without channels:read, membership is for a person to check."""
    listed = ", ".join(named)
    return Finding(
        True,
        "Slack channels",
        "not checked: the token lacks channels:read (groups:read for private channels), "
        "which app_manifest.yaml leaves out (least privilege). Check by hand: in Slack, open "
        f"each of {listed}, channel details -> Integrations (or Members) lists tpu-bot; "
        f"if not, {INVITE}. Or grant channels:read, reinstall the app and run check again.",
    )


def _groups(client: WebClient, config: BotConfig) -> list[Finding]:
    named: dict[str, list[str]] = {}
    for role in ("viewer", "operator", "approver", "admin"):
        for principal in getattr(config.roles, role):
            if principal.startswith("S"):
                named.setdefault(principal, []).append(f"roles.{role}")
    findings = []
    for group, fields in named.items():
        where = f"{group} ({', '.join(fields)})"
        try:
            users = client.usergroups_users_list(usergroup=group).get("users") or []
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            fix = {
                "missing_scope": "the token lacks usergroups:read, which roles: needs: "
                "reinstall the app from app_manifest.yaml",
                "no_such_subteam": "no such user group: copy its id in Slack (People -> "
                "User groups -> the group -> ⋯ -> Copy group ID)",
            }.get(error, "see https://api.slack.com/methods/usergroups.users.list")
            findings.append(Finding(False, f"Slack group {group}", f"{where}: {error}: {fix}"))
            continue
        except (SlackClientError, OSError) as exc:
            detail = f"{where}: usergroups.users.list failed ({exc.__class__.__name__})"
            findings.append(Finding(False, f"Slack group {group}", detail))
            continue
        findings.append(Finding(True, f"Slack group {group}", f"{where}: {len(users)} members"))
    return findings


def _history(client: WebClient, channel: str) -> Finding:
    what = "Slack history (slack.recover_from_history)"
    try:
        client.conversations_history(channel=channel, limit=1)
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if error == "missing_scope":
            return Finding(
                False,
                what,
                "the token lacks channels:history (groups:history for private channels): add "
                "them to the app (docs/reliability.md) and reinstall, or set "
                "slack.recover_from_history: false (a crash right after a post may then post "
                "it twice)",
            )
        if error not in ("not_in_channel", "channel_not_found"):  # those are named above
            return Finding(False, what, f"conversations.history: {error}")
    except (SlackClientError, OSError) as exc:
        return Finding(False, what, f"conversations.history failed ({exc.__class__.__name__})")
    return Finding(True, what, "the token may read channel history")


# ----- TPU API -------------------------------------------------------------------------------


def _tpu(settings: Settings, make_tpu: Callable[[Settings], TpuClient] | None) -> list[Finding]:
    env = settings.env
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
        detail = (
            f"no credentials: {exc}. Run `gcloud auth application-default login`, "
            "or use Workload Identity"
        )
        return [Finding(False, "TPU API", detail)]
    findings = []
    for project in (p for p in settings.bot.projects if "tpu" in p.sources):
        what = f"TPU API {project.id}"
        try:
            listing = tpu.list_nodes(project.id, project.locations)
        except PermissionDenied as exc:
            detail = (
                f"{exc.message} Grant the bot's service account roles/tpu.viewer "
                "(roles/tpu.admin to act) on the project"
            )
            findings.append(Finding(False, what, detail))
            continue
        except TpuError as exc:
            findings.append(Finding(False, what, f"{exc.status}: {exc.message}"))
            continue
        unreachable = len(listing.unreachable)
        partial = f", no answer from {unreachable} zones" if unreachable else ""
        findings.append(Finding(True, what, f"{len(listing.nodes)} nodes{partial}"))
    return findings


# ----- database (read only) ------------------------------------------------------------------


def _database(settings: Settings) -> Finding:
    url = normalize_url(settings.env.TPUBOT_DATABASE_URL)
    latest = len(MIGRATIONS)
    try:
        version = read_schema_version(url)
    except (SQLAlchemyError, OSError, sqlite3.Error) as exc:
        return Finding(False, "database", f"{exc.__class__.__name__}: check TPUBOT_DATABASE_URL")
    if version is None:
        return Finding(
            True, "database", f"no schema yet: the bot will create it (version {latest}) on start"
        )
    if version < latest:
        return Finding(
            True,
            "database",
            f"reachable, schema at version {version}, the bot will migrate to {latest} on start",
        )
    if version > latest:
        return Finding(
            False,
            "database",
            f"schema at version {version}, newer than this tpu-bot knows ({latest}): run the "
            "newer tpu-bot, or check TPUBOT_DATABASE_URL",
        )
    return Finding(True, "database", f"reachable, schema up to date (version {latest})")


def read_schema_version(url: str) -> int | None:
    """The schema version, None when there is no schema; writes nothing, creates no file."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if not path or path == ":memory:" or not Path(path).exists():
            return None
        location = f"file:{pathname2url(str(Path(path).resolve()))}?mode=ro"
        engine = sa.create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(location, uri=True), poolclass=NullPool
        )
        options = {}
    else:
        engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
        options = {"postgresql_readonly": True}
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**options)
            if not sa.inspect(conn).has_table(schema_version.name):
                return None
            version = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
            return None if version is None else int(version)
    finally:
        engine.dispose()
