"""Neutral messages about utilization: what the bot has to say, before `render` draws it.

Plain words and typed fields only: no Slack markup and no Slack limits here (the renderer in
bot/slack/blocks/usage.py and home.py knows those). Builders live in core/usage_views.py.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.records import Approval, Incident
from bot.core.usage_digest import DigestFigures


class ChartKind(enum.StrEnum):
    LINE = "line"
    BAR = "bar"
    AREA = "area"
    PIE = "pie"


@dataclass(frozen=True)
class ChartSeries:
    name: str
    values: Sequence[float | None]  # one per category, None where there is no data


@dataclass(frozen=True)
class Chart:
    """A chart as data: categories along the x axis (oldest first), series of values over them
    (a pie uses the first series' values as its slices)."""

    title: str
    kind: ChartKind
    categories: Sequence[str]
    series: Sequence[ChartSeries]
    x_title: str = ""
    y_title: str = ""


class UsageState(enum.StrEnum):
    IDLE = "idle"  # judged idle: the idle notice names it
    BUSY = "busy"
    UNKNOWN = "unknown"  # usage could not be read: never idle
    SPARED = "spared"  # low or young, but exempt, kept, too small or too young to judge
    STOPPED = "stopped"  # not running


@dataclass(frozen=True)
class UsageRow:
    ref: str  # P/Z/N
    accelerator: str  # accelerator type or machine type
    chips: int | None
    duty_1h: float | None  # percent
    duty_24h: float | None
    cost_per_day: float | None
    state: UsageState
    reason: str  # the verdict's reason, in plain words


@dataclass(frozen=True)
class UsageTable:
    """Utilization by TPU, idle ones first."""

    rows: Sequence[UsageRow]
    now: datetime
    threshold_percent: float
    window_minutes: int
    currency: str
    unknown: Sequence[str] = ()  # what could not be read, and why ("ml-prod nodes: ...")


@dataclass(frozen=True)
class IdleTpu:
    ref: str
    accelerator: str
    chips: int | None
    duty_percent: float  # mean duty cycle over the window
    cost_per_day: float | None
    cost_so_far: float | None  # since it was created
    can_stop: bool


@dataclass(frozen=True)
class IdleNotice:
    """For one route: TPUs idle past the threshold. Each is offered stop (single-host only),
    delete and keep for `keep_hours`, as the /tpu commands `stop REF`, `delete REF` and
    `keep REF 24h`."""

    tpus: Sequence[IdleTpu]
    threshold_percent: float
    window_minutes: int
    currency: str
    keep_hours: int = 24
    # TPUs no longer idle since the notice was posted: their ref -> why (busy again, stopped,
    # gone, kept by someone); they are shown settled, without buttons.
    settled: Mapping[str, str] = field(default_factory=dict)

    @property
    def still_idle(self) -> list[IdleTpu]:
        return [t for t in self.tpus if t.ref not in self.settled]


@dataclass(frozen=True)
class IdleSettled:
    """A TPU of an idle notice that is no longer idle, told in the notice's thread."""

    ref: str
    why: str  # busy again, stopped, gone, kept by someone until...
    user: str = ""  # who kept it, if someone did


@dataclass(frozen=True)
class UsageDigest:
    """The daily digest: the fleet's figures over the last day, the most costly idle TPUs and
    the busy chips per day."""

    now: datetime
    figures: DigestFigures
    threshold_percent: float
    currency: str
    top_idle: Sequence[IdleTpu] = ()
    busy_chart: Chart | None = None
    unknown: Sequence[str] = ()
    fleet: FleetNotes | None = None


@dataclass(frozen=True)
class FleetNotes:
    """What else the day held, for the digest: requests for capacity waiting or failed,
    maintenance in the next days, incidents, and the actions people took."""

    queued_waiting: int = 0
    queued_failed: int = 0
    maintenance: Sequence[MaintenanceLine] = ()
    incidents_opened: int = 0  # in the last day
    incidents_open: int = 0  # now
    actions: int = 0  # started in the last day (the audit log)


@dataclass(frozen=True)
class UsageLine:
    """A TPU's utilization in one line of its card: duty cycle and HBM used over the last hour
    and 24 hours (None where not read), or why it could not be read."""

    duty_1h: float | None = None  # percent
    duty_24h: float | None = None
    hbm_used_1h: float | None = None  # bytes
    hbm_used_24h: float | None = None
    hbm_total: float | None = None
    unknown: str = ""  # why the usage is unknown ('' when read)


@dataclass(frozen=True)
class UsageDetail:
    """One TPU's utilization (for /tpu get): the row, the last 24 hours as a chart, and what
    else Monitoring said."""

    row: UsageRow
    chart: Chart | None = None
    tensorcore_percent: float | None = None
    hbm_used_bytes: float | None = None  # the last hour's mean
    hbm_total_bytes: float | None = None
    currency: str = "USD"
    hbm_used_24h_bytes: float | None = None


@dataclass(frozen=True)
class KindCount:
    """TPUs of one accelerator or machine type: how many in each state, and their chips."""

    accelerator: str
    states: Sequence[tuple[str, int]]
    chips: int


@dataclass(frozen=True)
class MaintenanceLine:
    ref: str
    starts_at: datetime | None
    kind: str = ""  # SCHEDULED, UNSCHEDULED...


@dataclass(frozen=True)
class FleetHome:
    """A person's App Home: the fleet at a glance, open incidents, their pending requests and
    the next maintenance windows."""

    user: str
    now: datetime
    kinds: Sequence[KindCount]
    busy_chips: int
    idle_chips: int
    unknown_chips: int
    idle_tpus: int
    open_incidents: Sequence[Incident] = ()
    pending_requests: Sequence[Approval] = ()
    next_maintenance: Sequence[MaintenanceLine] = ()
    unknown: Sequence[str] = ()


UsageMessage = IdleNotice | IdleSettled | UsageTable | UsageDigest | UsageDetail | FleetHome
