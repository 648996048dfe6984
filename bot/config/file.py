"""The YAML file (`TPUBOT_CONFIG`): projects, channels, routes, roles, approvals, the watcher,
usage, limits. Validated once at start; errors name the field that is wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.commands.spec import Verb

GOOGLE_TPU_ENDPOINT = "https://tpu.googleapis.com/"
GOOGLE_COMPUTE_ENDPOINT = "https://compute.googleapis.com/"  # the client adds compute/v1/
GOOGLE_MONITORING_ENDPOINT = "https://monitoring.googleapis.com/"
SLACK_API_URL = "https://slack.com/api/"

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_PRINCIPAL = re.compile(r"^(\*|[UWS][A-Z0-9]{2,})$")
_PROJECT_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$|^[a-z][-a-z0-9.:]{1,62}$")
_ZONE = re.compile(r"^(-|[a-z]+-[a-z]+\d+-[a-z])$")
_NETWORK = re.compile(r"^projects/[^/]+/global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


class ConfigError(Exception):
    """The configuration is wrong; the message names each field and what to do."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectConfig(_Strict):
    id: str
    locations: tuple[str, ...] = ("-",)
    # v2 sees every node, whichever version made it; v1alpha1 keeps TPU Nodes' reimage.
    api: Literal["v2", "v1alpha1"] = "v2"
    # Networks of other projects (a shared VPC: `projects/HOST/global/networks/N`) that TPUs of
    # this project may be created on; the project's own networks are always allowed.
    networks: tuple[str, ...] = ()
    # Where its TPUs come from: Cloud TPU API nodes (`tpu`) and Compute Engine TPU VMs with
    # their slices, flex-start requests and reservations (`compute`); either can be turned off.
    sources: tuple[Literal["tpu", "compute"], ...] = ("tpu", "compute")

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one source: tpu, compute")
        if len(set(value)) != len(value):
            raise ValueError("a source is listed twice")
        return value

    @field_validator("id")
    @classmethod
    def _project_id(cls, value: str) -> str:
        if not _PROJECT_ID.match(value):
            raise ValueError(f"{value!r} is not a GCP project id")
        return value

    @field_validator("networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            if not _NETWORK.match(network):
                raise ValueError(f"{network!r} is not projects/P/global/networks/N")
        return value

    @field_validator("locations")
    @classmethod
    def _zones(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError('give at least one zone, or "-" for every zone')
        for zone in value:
            if not _ZONE.match(zone):
                raise ValueError(f'{zone!r} is not a zone (like us-central1-b) or "-"')
        if "-" in value and len(value) > 1:
            raise ValueError('"-" already covers every zone; list it alone')
        return value


class ChannelsConfig(_Strict):
    alerts: str
    approvals: str

    @field_validator("alerts", "approvals")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _CHANNEL_ID.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (C..., G...)")
        return value


class RouteMatch(_Strict):
    project: str | None = None
    zone: str | None = None
    labels: Mapping[str, str] = Field(default_factory=dict)


class Route(_Strict):
    match: RouteMatch
    channel: str

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        return ChannelsConfig._channel(value)


def _principals(value: tuple[str, ...]) -> tuple[str, ...]:
    for principal in value:
        if not _PRINCIPAL.match(principal):
            raise ValueError(f'{principal!r} is not a Slack user (U...), user group (S...) or "*"')
    return value


class RolesConfig(_Strict):
    viewer: tuple[str, ...] = ("*",)
    operator: tuple[str, ...] = ()
    approver: tuple[str, ...] = ()
    admin: tuple[str, ...] = ()

    _check = field_validator("viewer", "operator", "approver", "admin")(_principals)


class ApprovalsConfig(_Strict):
    # The actions (bot.core.commands.Verb, as the subcommands declare them) that wait for an
    # approver; recreate is as careful as delete or create, requeue as queue-delete or
    # queue-create, unless named itself.
    required_for: tuple[Verb, ...] = (
        Verb.STOP,
        Verb.DELETE,
        Verb.REIMAGE,
        Verb.CREATE,
        # Quarantining a host and starting maintenance stop what runs there.
        Verb.REPORT_FAULTY,
        Verb.MAINTENANCE,
    )
    ttl_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # How long an approved action is retried while the TPU API fails, before it ends failed.
    retry_minutes: int = Field(default=10, ge=1, le=24 * 60)
    # An attempt not finished after this long was cut off (a crash): the leader takes it over.
    attempt_timeout_seconds: int = Field(default=300, ge=1)


class IdleConfig(_Strict):
    """When a TPU counts as idle (Cloud Monitoring's duty cycle), and what people may do."""

    threshold_percent: float = Field(default=2, ge=0, le=100)  # mean duty cycle below this...
    minutes: int = Field(default=180, ge=5, le=7 * 24 * 60)  # ...over this window = idle
    check_seconds: int = Field(default=300, ge=30)  # how often usage is read
    min_chips: int = Field(default=0, ge=0)  # smaller TPUs are not swept
    # A TPU with one of these labels is never called idle (GCP label keys take no "/").
    exempt_labels: Mapping[str, str] = Field(default_factory=lambda: {"tpu-bot-keep": "true"})
    keep_hours: int = Field(default=24, ge=1, le=24 * 30)  # what "Keep" grants


class WatchConfig(_Strict):
    poll_seconds: int = Field(default=60, ge=5)
    operations_seconds: int = Field(default=10, ge=1)
    storm_threshold: int = Field(default=5, ge=2)
    degraded_after_failures: int = Field(default=3, ge=1)
    flap_window_minutes: int = Field(default=30, ge=1)
    flap_threshold: int = Field(default=3, ge=2)
    operation_warn_minutes: int = Field(default=20, ge=1)
    lease_seconds: int = Field(default=15, ge=3)
    # A queued resource waiting for capacity longer than this (from its createTime) alerts.
    queue_wait_minutes: int = Field(default=60, ge=1)
    # Optional: TPU API requests per minute the watcher may spend. Set, the poll job runs every
    # `plan_seconds` and polls the projects where trouble is likely more often, never above this
    # budget, never leaving a project unpolled longer than poll_seconds (which wins if the budget
    # cannot pay for that alone). Early polls list nodes only; queued resources are listed by
    # poll_seconds, and soon after a quick poll sees one of their nodes change.
    requests_per_minute: int | None = Field(default=None, ge=1)
    plan_seconds: int = Field(default=5, ge=1)
    # Compute Engine's groups (slices), flex-start requests and reservations are listed this
    # often (instances every poll): they change slowly and cost a request or more each.
    capacity_seconds: int = Field(default=300, ge=5)
    idle: IdleConfig = IdleConfig()


class GcpConfig(_Strict):
    impersonate_service_account: str | None = None
    credentials_file: str | None = None
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    retries: int = Field(default=4, ge=0, le=10)
    # Google API requests a minute that people's commands may spend, apart from the watcher's
    # (watch.requests_per_minute): a flood of listings is answered "try again in N s" and never
    # spends the quota the watcher needs. Bursts of a tenth of it (at least 10).
    command_requests_per_minute: int = Field(default=300, ge=1)


class SlackConfig(_Strict):
    # Look for a post in the channel's recent history before sending it again after a crash;
    # needs channels:history (groups:history for private channels), see docs/reliability.md.
    recover_from_history: bool = False
    # A message Slack keeps failing for a reason that may pass (5xx, timeouts) is given up on
    # after this many attempts or this many hours, so it cannot hold up its channel forever.
    outbox_max_attempts: int = Field(default=30, ge=1, le=1000)
    # User-group members read from Slack are trusted this long while Slack cannot be asked
    # again; after that a group counts as empty (the roles it grants are refused).
    group_max_age_minutes: float = Field(default=60, gt=0, le=24 * 60)
    outbox_max_age_hours: float = Field(default=24, gt=0, le=24 * 30)


class UsageConfig(_Strict):
    """Cost estimates and the daily digest. Prices are per chip-hour, by generation and
    provisioning model (`{v5e: {on-demand: 1.2, spot: 0.5}}`); they override the documented
    defaults (bot/core/usage_cost.py); a TPU without a price has an unknown cost, never zero."""

    currency: str = "USD"
    prices: Mapping[str, Mapping[str, float]] = Field(default_factory=dict)
    digest: bool = True  # post the daily digest
    digest_at: str = "09:00"  # local time of day
    digest_timezone: str = "UTC"  # an IANA zone name, e.g. Europe/Paris
    top_idle: int = Field(default=10, ge=0, le=50)  # idle TPUs the digest names

    @field_validator("digest_at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
            raise ValueError(f"{value!r} is not a time of day like 09:00")
        return value

    @field_validator("digest_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value == "UTC":  # needs no time zone database (a slim image may have none)
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (like UTC or Europe/Paris)") from None
        return value


class RetentionConfig(_Strict):
    """How long the leader keeps what is done: sent outbox rows (the roots that incidents,
    requests and operations still reply to are kept), audit entries, long listing queries."""

    outbox_days: float = Field(default=7, gt=0)
    audit_days: float = Field(default=90, gt=0)
    listing_days: float = Field(default=7, gt=0)


class LimitsConfig(_Strict):
    """What one user, and everyone together, may ask of the bot (answered at once when over)."""

    # Per Slack user, commands and clicks together: a token bucket of `burst`, refilled at
    # `commands_per_minute`. The default stops a script listing in a loop, not a person paging.
    commands_per_minute: float = Field(default=15, gt=0, le=10_000)
    burst: int = Field(default=10, ge=1, le=10_000)
    # Admins (roles.admin, by user id or a user group the bot already looked up) get this many
    # times the rate and burst; null: admins are not limited.
    admin_multiplier: float | None = Field(default=10, ge=1)
    # Work accepted and waiting for a worker; when full, requests are answered "busy" at once.
    queue_size: int = Field(default=500, ge=1, le=100_000)
    # The work after an ack (dispatch, TPU calls, rendering, the answer) runs in a child
    # process, so the acks never wait behind it for the interpreter; false: in the bot's own
    # threads (one process less, about 70 MB; acks slower under load).
    work_process: bool = True
    # Commands and clicks worked on at once; default 8 in the work process, 2 without one
    # (each busy thread beside the acks is one more the acks wait behind).
    workers: int | None = Field(default=None, ge=1, le=64)


class BotConfig(_Strict):
    """The YAML file (`TPUBOT_CONFIG`)."""

    projects: tuple[ProjectConfig, ...]
    channels: ChannelsConfig
    routes: tuple[Route, ...] = ()
    roles: RolesConfig = RolesConfig()
    approvals: ApprovalsConfig = ApprovalsConfig()
    watch: WatchConfig = WatchConfig()
    gcp: GcpConfig = GcpConfig()
    slack: SlackConfig = SlackConfig()
    retention: RetentionConfig = RetentionConfig()
    usage: UsageConfig = UsageConfig()
    limits: LimitsConfig = LimitsConfig()

    @field_validator("projects")
    @classmethod
    def _some_projects(cls, value: tuple[ProjectConfig, ...]) -> tuple[ProjectConfig, ...]:
        if not value:
            raise ValueError("list at least one project")
        ids = [p.id for p in value]
        if len(set(ids)) != len(ids):
            raise ValueError("a project is listed twice")
        return value

    @property
    def project_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.projects)


def format_errors(source: str, error: ValidationError) -> str:
    lines = [f"{source} is not valid:"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        elif item["type"] == "missing":
            message = "required"
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def parse_bot_config(data: Any, source: str = "config") -> BotConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        return BotConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(source, exc)) from None


def load_bot_config(path: str | Path) -> BotConfig:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found: set TPUBOT_CONFIG or create it (see README)"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_bot_config(data, str(path))
