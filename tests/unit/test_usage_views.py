"""core.usage_digest and core.usage_views: figures, ordering, notices per route, charts, home;
and no Slack markup in the core modules' words."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core import usage_messages as u
from bot.core.records import Approval, ApprovalStatus, Incident, IncidentStatus
from bot.core.usage import (
    DEFAULT_EXEMPT_LABELS,
    Generation,
    Provisioning,
    TpuFacts,
    TpuKind,
    TpuUsage,
    UsageKey,
    UsageListing,
    idle_verdict,
)
from bot.core.usage_cost import PriceTable
from bot.core.usage_digest import (
    FleetEntry,
    busy_chips_by_period,
    digest_figures,
    most_costly_idle,
)
from bot.core.usage_views import (
    busy_chart,
    duty_chart,
    fleet_home,
    idle_notices,
    unknown_lines,
    usage_detail,
    usage_digest,
    usage_table,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PRICES = PriceTable(
    {
        (Generation.V5E, Provisioning.ON_DEMAND): 1.0,
        (Generation.V6E, Provisioning.ON_DEMAND): 2.0,
    }
)


def facts(name: str, chips: int | None = 8, **changes: object) -> TpuFacts:
    zone = "us-east5-a" if not name.startswith("eu") else "europe-west4-a"
    base = TpuFacts(
        name=f"projects/ml-infra/locations/{zone}/nodes/{name}",
        ref=f"ml-infra/{zone}/{name}",
        key=UsageKey(TpuKind.NODE, "ml-infra", zone, name),
        accelerator="v5litepod-8",
        chips=chips,
        generation=Generation.V5E,
        provisioning=Provisioning.ON_DEMAND,
        running=True,
        created=NOW - timedelta(days=3),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def entry(tpu: TpuFacts, *hourly: float, unknown: str = "") -> FleetEntry:
    """Hour-long duty means, newest first."""
    points = tuple((NOW - i * HOUR, v) for i, v in enumerate(hourly))
    usage = TpuUsage(tpu.key, HOUR, duty=points, unknown=unknown)
    verdict = idle_verdict(usage, tpu, 2.0, 180, 0, DEFAULT_EXEMPT_LABELS, NOW)
    return FleetEntry(tpu, usage, verdict)


IDLE_BIG = entry(facts("idle-big", 16), *[0.5] * 24)
IDLE_SMALL = entry(facts("idle-small", 4), *[1.0] * 24)
BUSY = entry(
    facts("busy", 8, accelerator="ct6e-standard-8t", generation=Generation.V6E), *[90.0] * 24
)
HALF = entry(facts("half", 8), *[0.0] * 12, *[80.0] * 12)  # idle the last 12 h
UNKNOWN = entry(facts("dark", 8), unknown="Cloud Monitoring: unavailable")
KEPT = entry(facts("kept", 8, labels={"tpu-bot-keep": "true"}), *[0.0] * 24)
STOPPED = entry(facts("stopped", 8, running=False))
SPOT = entry(facts("spot", 8, provisioning=Provisioning.SPOT), *[0.0] * 24)  # no price
ODD = entry(facts("odd", None, accelerator="tpu7x-8", generation=Generation.TPU7X), *[0.0] * 24)
FLEET = [BUSY, HALF, IDLE_SMALL, UNKNOWN, KEPT, STOPPED, IDLE_BIG, SPOT, ODD]


def test_digest_figures() -> None:
    f = digest_figures(FLEET, 2.0, PRICES, timedelta(days=1))
    assert (f.tpus, f.running, f.uncounted, f.unpriced) == (9, 8, 1, 2)
    assert f.chips == 8 + 8 + 4 + 8 + 8 + 16 + 8
    # 24 h means: busy 90, half 40 -> busy; idle-small, idle-big, kept, spot -> idle.
    assert (f.busy_chips, f.idle_chips, f.unknown_chips) == (16, 4 + 8 + 16 + 8, 8)
    assert f.idle_tpus == 5  # idle-big, idle-small, half, spot, odd (kept is exempt)
    # chip-hours below 2 %: half 12 h x 8, idle-small 24 x 4, kept 24 x 8, idle-big 24 x 16,
    # spot 24 x 8 (odd's chips unknown: not counted)
    assert f.idle_chip_hours == 12 * 8 + 24 * 4 + 24 * 8 + 24 * 16 + 24 * 8
    assert f.idle_cost == pytest.approx((12 * 8 + 24 * 4 + 24 * 8 + 24 * 16) * 1.0)
    assert f.cost_per_day == pytest.approx((8 * 2.0 + (8 + 4 + 8 + 8 + 16) * 1.0) * 24)


def test_odd_shapes_are_judged_but_not_counted() -> None:
    assert ODD.verdict.idle  # chips unknown: judged on usage alone
    assert [e.facts.ref for e in most_costly_idle(FLEET, PRICES, 10)] == [
        "ml-infra/us-east5-a/idle-big",
        "ml-infra/us-east5-a/half",
        "ml-infra/us-east5-a/idle-small",
        "ml-infra/us-east5-a/odd",  # unpriced ones last, by name
        "ml-infra/us-east5-a/spot",
    ]


def test_busy_chips_by_period() -> None:
    days = [entry(facts("a", 8), 50.0, 0.0, 50.0), entry(facts("b", 4), 50.0, 50.0)]
    assert busy_chips_by_period(days, 2.0) == [
        (NOW - 2 * HOUR, 8),
        (NOW - HOUR, 4),
        (NOW, 12),
    ]


def test_usage_table_puts_idle_first_then_unknown() -> None:
    table = usage_table(FLEET, PRICES, 2.0, 180, NOW)
    states = [(r.ref.rsplit("/", 1)[1], r.state) for r in table.rows]
    assert states == [
        ("idle-big", u.UsageState.IDLE),
        ("half", u.UsageState.IDLE),
        ("idle-small", u.UsageState.IDLE),
        ("odd", u.UsageState.IDLE),
        ("spot", u.UsageState.IDLE),
        ("dark", u.UsageState.UNKNOWN),
        ("kept", u.UsageState.SPARED),
        ("busy", u.UsageState.BUSY),
        ("stopped", u.UsageState.STOPPED),
    ]
    busy = next(r for r in table.rows if r.ref.endswith("busy"))
    assert (busy.duty_1h, busy.duty_24h, busy.cost_per_day, busy.chips) == (90.0, 90.0, 384.0, 8)


def test_idle_notices_go_to_their_routes() -> None:
    eu = entry(facts("eu-idle", 8), *[0.0] * 24)
    notices = idle_notices(
        [*FLEET, eu],
        PRICES,
        2.0,
        180,
        NOW,
        lambda f: "C0EU" if f.key.zone.startswith("europe") else "C0US",
    )
    assert sorted(notices) == ["C0EU", "C0US"]
    assert [t.ref for t in notices["C0EU"].tpus] == ["ml-infra/europe-west4-a/eu-idle"]
    us = notices["C0US"]
    assert [t.ref.rsplit("/", 1)[1] for t in us.tpus] == [
        "idle-big",
        "half",
        "idle-small",
        "odd",
        "spot",
    ]
    big = us.tpus[0]
    assert (big.chips, big.duty_percent, big.cost_per_day) == (16, 0.5, 384.0)
    assert big.cost_so_far == 16 * 72.0  # 3 days at 16 chips x 1.0
    assert (us.threshold_percent, us.window_minutes, us.keep_hours) == (2.0, 180, 24)


def test_charts() -> None:
    chart = duty_chart(HALF.usage)
    assert chart is not None and chart.kind is u.ChartKind.LINE
    assert chart.categories[0] == "13:00" and chart.categories[-1] == "12:00"  # oldest first
    assert list(chart.series[0].values) == [*[80.0] * 12, *[0.0] * 12]
    three_hour = TpuUsage(HALF.usage.key, 3 * HOUR, duty=((NOW, 1.0),))
    assert duty_chart(three_hour) is None  # not hourly: no 24-hour chart
    assert duty_chart(UNKNOWN.usage) is None
    bars = busy_chart([(NOW - timedelta(days=1), 12), (NOW, 20)])
    assert bars is not None and bars.categories == ["Sun 22", "Mon 23"]
    assert list(bars.series[0].values) == [12.0, 20.0]
    assert busy_chart([]) is None


def test_detail_and_digest() -> None:
    detail = usage_detail(HALF, PRICES, 2.0, 180)
    assert detail.row.state is u.UsageState.IDLE and detail.chart is not None
    digest = usage_digest(FLEET, PRICES, 2.0, 180, NOW, [(NOW, 16)], ["ml-prod instances: x"])
    assert [t.ref.rsplit("/", 1)[1] for t in digest.top_idle][:2] == ["idle-big", "half"]
    assert digest.busy_chart is not None and digest.unknown == ("ml-prod instances: x",)


def test_unknown_lines() -> None:
    listing = UsageListing(
        "ml-prod", NOW, HOUR, HOUR, unknown={TpuKind.INSTANCE: "Cloud Monitoring: 503"}
    )
    assert unknown_lines([listing]) == ["ml-prod instances: Cloud Monitoring: 503"]


def test_fleet_home_shows_only_the_persons_pending_requests() -> None:
    def approval(i: str, requester: str, status: ApprovalStatus, expires: datetime) -> Approval:
        return Approval(
            i, "delete", IDLE_BIG.facts.name, requester, "C0", NOW - HOUR, expires, status
        )

    approvals = [
        approval("a", "U1", ApprovalStatus.PENDING, NOW + HOUR),
        approval("b", "U2", ApprovalStatus.PENDING, NOW + HOUR),
        approval("c", "U1", ApprovalStatus.EXECUTED, NOW + HOUR),
        approval("d", "U1", ApprovalStatus.PENDING, NOW - timedelta(minutes=1)),  # expired
    ]
    incidents = [
        Incident("i1", BUSY.facts.name, "unhealthy", "C0", NOW - HOUR, NOW),
        Incident(
            "i2", BUSY.facts.name, "preempted", "C0", NOW - 2 * HOUR, NOW, IncidentStatus.RESOLVED
        ),
    ]
    maintenance = [
        u.MaintenanceLine("a/b/c", NOW + 2 * HOUR, "SCHEDULED"),
        u.MaintenanceLine("a/b/d", NOW - HOUR, "SCHEDULED"),  # past
        u.MaintenanceLine("a/b/e", NOW + HOUR),
    ]
    home = fleet_home(
        "U1",
        NOW,
        FLEET,
        2.0,
        180,
        states={STOPPED.facts.name: "STOPPED", BUSY.facts.name: "READY"},
        incidents=incidents,
        approvals=approvals,
        maintenance=maintenance,
    )
    assert [a.id for a in home.pending_requests] == ["a"]
    assert [i.id for i in home.open_incidents] == ["i1"]
    assert [m.ref for m in home.next_maintenance] == ["a/b/e", "a/b/c"]
    # over the 3 h window: only `busy` is busy (`half` idled the last 12 h)
    assert (home.busy_chips, home.idle_chips, home.unknown_chips, home.idle_tpus) == (8, 44, 8, 5)
    by_kind = {k.accelerator: k for k in home.kinds}
    assert by_kind["ct6e-standard-8t"].states == (("READY", 1),)
    assert ("STOPPED", 1) in by_kind["v5litepod-8"].states


CORE_FILES = ["usage.py", "usage_cost.py", "usage_digest.py", "usage_messages.py", "usage_views.py"]


@pytest.mark.parametrize("name", CORE_FILES)
def test_core_speaks_plain_words(name: str) -> None:
    """No Slack markup in what core says: no backticks, mentions or *bold*."""
    source = Path(__file__).parents[2] / "bot" / "core" / name
    tree = ast.parse(source.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            assert not any(mark in node.value for mark in ("`", "<@", "<#", "*")), node.value
