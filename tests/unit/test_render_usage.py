"""The utilization renderers against golden JSON, and within Slack's limits at any size.

Regenerate the goldens after an intended change:
UPDATE_GOLDEN=1 pytest tests/unit/test_render_usage.py

localslack.validate_blocks judges every block it knows; the `table` and `data_visualization`
blocks are also checked here against their references (docs.slack.dev/reference/block-kit/
blocks/table-block and .../data-visualization-block), since this tree's localslack predates
them (it refuses a data_visualization block outright).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core import usage_messages as u
from bot.core.records import Approval, Incident
from bot.core.usage_digest import DigestFigures
from bot.slack.blocks import render
from bot.slack.blocks.charts import chart_block, chart_lines, table_block
from localslack import validate_blocks

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


# ----- what Slack accepts -------------------------------------------------------------------


def _check_table(block: dict[str, Any]) -> None:
    rows = block["rows"]
    assert 1 <= len(rows) <= 100
    characters = 0
    for row in rows:
        assert 1 <= len(row) <= 20
        for cell in row:
            assert cell["type"] in ("raw_text", "rich_text")
            if cell["type"] == "raw_text":
                assert isinstance(cell["text"], str) and len(cell["text"]) >= 1
                characters += len(cell["text"])
    assert characters <= 10_000
    settings = block.get("column_settings") or []
    assert len(settings) <= 20
    for setting in settings:
        assert setting is None or setting.get("align", "left") in ("left", "center", "right")


def _check_chart(block: dict[str, Any]) -> None:
    assert isinstance(block["title"], str) and 1 <= len(block["title"]) <= 50
    chart = block["chart"]
    assert chart["type"] in ("pie", "bar", "area", "line")
    if chart["type"] == "pie":
        assert 1 <= len(chart["segments"]) <= 6
        for segment in chart["segments"]:
            assert isinstance(segment["label"], str) and len(segment["label"]) <= 20
            assert isinstance(segment["value"], int | float) and segment["value"] > 0
        return
    axis = chart["axis_config"]
    categories = axis["categories"]
    assert all(isinstance(c, str) and len(c) <= 20 for c in categories)
    for key in ("x_label", "y_label"):
        assert len(axis.get(key, "")) <= 50
    names = [s["name"] for s in chart["series"]]
    assert 1 <= len(names) <= 6 and len(set(names)) == len(names)
    for series in chart["series"]:
        assert 1 <= len(series["name"]) <= 20
        assert 1 <= len(series["data"]) <= 20
        labels = [p["label"] for p in series["data"]]
        assert labels == categories  # every category, in order
        assert all(isinstance(p["value"], int | float) for p in series["data"])


def slack_accepts(blocks: list[dict[str, Any]], limit: int = 50) -> None:
    assert len(blocks) <= limit
    tables = [b for b in blocks if b["type"] == "table"]
    charts = [b for b in blocks if b["type"] == "data_visualization"]
    assert len(tables) <= 1 and len(charts) <= 2
    for table in tables:
        _check_table(table)
    for chart in charts:
        _check_chart(chart)
    known = [b for b in blocks if b["type"] != "data_visualization"]
    for start in range(0, len(known), 50):  # validate_blocks counts a message's 50
        validate_blocks(known[start : start + 50])
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(ids) == len(set(ids))


# ----- cases --------------------------------------------------------------------------------


def row(name: str, state: u.UsageState, **changes: Any) -> u.UsageRow:
    base: dict[str, Any] = dict(
        ref=f"ml-infra/us-east5-a/{name}",
        accelerator="v5litepod-16",
        chips=16,
        duty_1h=0.4,
        duty_24h=12.5,
        cost_per_day=460.8,
        state=state,
        reason="idle: mean duty cycle 0.4 % over the last 180 min (below 2 %)",
    )
    base.update(changes)
    return u.UsageRow(**base)


ROWS = (
    row("idle-1", u.UsageState.IDLE),
    row("dark", u.UsageState.UNKNOWN, duty_1h=None, duty_24h=None, reason="usage unknown: x"),
    row("kept", u.UsageState.SPARED, chips=None, cost_per_day=None),
    row("busy", u.UsageState.BUSY, accelerator="ct6e-standard-4t", chips=4, duty_1h=93.2),
    row("off", u.UsageState.STOPPED, duty_1h=None, duty_24h=None, cost_per_day=0.0),
)


def idle(name: str, can_stop: bool = False, **changes: Any) -> u.IdleTpu:
    base: dict[str, Any] = dict(
        ref=f"ml-infra/us-east5-a/{name}",
        accelerator="v5litepod-16",
        chips=16,
        duty_percent=0.4,
        cost_per_day=460.8,
        cost_so_far=1382.4,
        can_stop=can_stop,
    )
    base.update(changes)
    return u.IdleTpu(**base)


def hourly_chart(hours: int = 24) -> u.Chart:
    ends = [NOW - (hours - 1 - i) * HOUR for i in range(hours)]
    values = [90.0 if i % 5 else 0.5 for i in range(hours)]
    return u.Chart(
        "Duty cycle, last 24 h",
        u.ChartKind.LINE,
        [f"{e:%H:%M}" for e in ends],
        [u.ChartSeries("Duty cycle", values)],
        "Hour ending (UTC)",
        "Duty cycle (%)",
    )


BUSY_CHART = u.Chart(
    "Busy chips per day",
    u.ChartKind.BAR,
    ["Tue 17", "Wed 18", "Thu 19", "Fri 20", "Sat 21", "Sun 22", "Mon 23"],
    [u.ChartSeries("Busy chips", [120.0, 128.0, 96.0, 64.0, 16.0, 16.0, 112.0])],
    "Day (UTC)",
    "Chips",
)
FIGURES = DigestFigures(
    tpus=40,
    running=36,
    chips=512,
    busy_chips=384,
    idle_chips=96,
    unknown_chips=32,
    idle_tpus=5,
    idle_chip_hours=2304.0,
    idle_cost=2764.8,
    cost_per_day=14745.6,
    unpriced=2,
    uncounted=1,
)
INCIDENT = Incident(
    "inc1", "projects/ml-infra/locations/us-east5-a/nodes/busy", "unhealthy", "C0", NOW - HOUR, NOW
)
APPROVAL = Approval(
    "ap1",
    "delete",
    "projects/ml-infra/locations/us-east5-a/nodes/idle-1",
    "U0OPER",
    "C0",
    NOW - HOUR,
    NOW + HOUR,
)
HOME = u.FleetHome(
    user="U0OPER",
    now=NOW,
    kinds=(
        u.KindCount("ct6e-standard-4t", (("RUNNING", 12),), 48),
        u.KindCount("v5litepod-16", (("READY", 20), ("STOPPED", 2)), 352),
    ),
    busy_chips=300,
    idle_chips=64,
    unknown_chips=36,
    idle_tpus=4,
    open_incidents=(INCIDENT,),
    pending_requests=(APPROVAL,),
    next_maintenance=(u.MaintenanceLine("ml-infra/us-east5-a/busy", NOW + 6 * HOUR, "SCHEDULED"),),
    unknown=("ml-prod instances: Cloud Monitoring: unavailable",),
)
CASES: dict[str, Any] = {
    "usage_table": u.UsageTable(ROWS, NOW, 2.0, 180, "USD", ("ml-prod instances: 503",)),
    "idle_notice": u.IdleNotice(
        (idle("idle-1"), idle("tiny", can_stop=True, accelerator="v3-8", chips=4)), 2.0, 180, "USD"
    ),
    "usage_digest": u.UsageDigest(
        NOW, FIGURES, 2.0, "USD", (idle("idle-1"), idle("idle-2", cost_so_far=None)), BUSY_CHART
    ),
    "usage_detail": u.UsageDetail(
        ROWS[0],
        hourly_chart(),
        0.3,
        2.0 * (1 << 30),
        64.0 * (1 << 30),
        hbm_used_24h_bytes=6.5 * (1 << 30),
    ),
    "fleet_home": HOME,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    rendered = render(CASES[name])
    slack_accepts(rendered["blocks"], 100 if name == "fleet_home" else 50)
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(json.dumps(rendered, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    assert rendered == json.loads(path.read_text())


# ----- at any size --------------------------------------------------------------------------


def test_a_huge_table_degrades_with_a_note() -> None:
    rows = tuple(row(f"tpu-{i:04d}", u.UsageState.BUSY) for i in range(250))
    rendered = render(u.UsageTable(rows, NOW, 2.0, 180, "USD"))
    slack_accepts(rendered["blocks"])
    table = next(b for b in rendered["blocks"] if b["type"] == "table")
    shown = len(table["rows"]) - 1
    assert shown < 250
    assert f"…and {250 - shown} more TPUs not shown" in json.dumps(rendered, ensure_ascii=False)


def test_long_cells_keep_the_table_under_ten_thousand_characters() -> None:
    rows = [["x" * 150, "y" * 150] for _ in range(99)]
    block, shown = table_block(["A", "B"], rows)
    _check_table(block)
    assert shown == (10_000 - 2) // 300


def test_many_idle_tpus_fit_one_message() -> None:
    tpus = tuple(idle(f"idle-{i:03d}", can_stop=bool(i % 2)) for i in range(60))
    rendered = render(u.IdleNotice(tpus, 2.0, 180, "USD"))
    slack_accepts(rendered["blocks"])
    text = json.dumps(rendered, ensure_ascii=False)
    assert "…and 37 more idle TPUs" in text  # 23 shown, 2 blocks each, within 50
    assert '"value": "keep ml-infra/us-east5-a/idle-000 24h"' in text


def test_idle_buttons_carry_their_commands() -> None:
    rendered = render(CASES["idle_notice"])
    actions = [b for b in rendered["blocks"] if b["type"] == "actions"]
    values = [[e["value"] for e in a["elements"]] for a in actions]
    assert values == [
        ["delete ml-infra/us-east5-a/idle-1", "keep ml-infra/us-east5-a/idle-1 24h"],
        [
            "stop ml-infra/us-east5-a/tiny",
            "delete ml-infra/us-east5-a/tiny",
            "keep ml-infra/us-east5-a/tiny 24h",
        ],
    ]


def test_charts_stay_within_the_reference() -> None:
    long = u.Chart(
        "A title far longer than the fifty characters a chart may carry",
        u.ChartKind.AREA,
        [f"category number {i} with a long name" for i in range(95)],
        [u.ChartSeries(f"series {i} named at length", [float(i)] * 95) for i in range(9)],
        "x" * 80,
        "y" * 80,
    )
    block = chart_block(long)
    assert block is not None
    _check_chart(block)
    assert (
        len(block["chart"]["series"]) == 6
        and len(block["chart"]["axis_config"]["categories"]) == 19
    )
    pie = u.Chart(
        "Chips by type",
        u.ChartKind.PIE,
        ["v5e", "v6e", "v5p", "v4", "v3", "v2", "tpu7x", "none"],
        [u.ChartSeries("chips", [64, 48, 32, 16, 8, 4, 2, 0])],
    )
    block = chart_block(pie)
    assert block is not None
    _check_chart(block)
    segments = block["chart"]["segments"]
    assert [s["label"] for s in segments][-1] == "Other" and segments[-1][
        "value"
    ] == 6  # v2 4 + tpu7x 2


def test_gaps_drop_categories_and_no_data_draws_text() -> None:
    gappy = u.Chart(
        "Gaps", u.ChartKind.LINE, ["a", "b", "c"], [u.ChartSeries("s", [1.0, None, 3.0])]
    )
    block = chart_block(gappy)
    assert block is not None and block["chart"]["axis_config"]["categories"] == ["a", "c"]
    empty = u.Chart("Empty", u.ChartKind.LINE, ["a"], [u.ChartSeries("s", [None])])
    assert chart_block(empty) is None
    assert chart_lines(gappy) == ["Gaps", "a 1.0, b -, c 3.0"]


def test_a_third_chart_is_drawn_as_text() -> None:
    from bot.slack.blocks.usage import chart_blocks

    blocks = chart_blocks([BUSY_CHART, BUSY_CHART, BUSY_CHART])
    kinds = [b["type"] if isinstance(b, dict) else b.to_dict()["type"] for b in blocks]
    assert kinds == ["data_visualization", "data_visualization", "section"]


def test_home_stays_within_a_views_hundred_blocks() -> None:
    incidents = tuple(
        Incident(f"i{i}", INCIDENT.node, "unhealthy", "C0", NOW - HOUR, NOW) for i in range(400)
    )
    kinds = tuple(u.KindCount(f"type-{i}", (("READY", 1),), 4) for i in range(400))
    big = u.FleetHome("U0", NOW, kinds, 1, 2, 3, 4, open_incidents=incidents)
    view = render(big)
    assert view["type"] == "home"
    slack_accepts(view["blocks"], 100)
    assert "…and 385 more" in json.dumps(view, ensure_ascii=False)
