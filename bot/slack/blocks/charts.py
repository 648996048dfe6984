"""Block Kit's data blocks: `table` (slack_sdk's TableBlock) and `data_visualization` (no
slack_sdk model yet: built as the reference describes it), each kept within its limits, and the
text a surface without charts shows instead.

Limits, from docs.slack.dev/reference/block-kit/blocks/table-block and .../data-visualization-
block (and localslack/rules.py, which refuses the same): a table has at most 100 rows of at most
20 cells, raw_text or rich_text cells of at least 1 character, 10,000 characters in all, one
table per message; a chart's title at most 50 characters, 1-6 series (or pie segments) of 1-20
points, labels and categories at most 20 characters, axis labels at most 50, every point's label
one of the categories, two charts per message.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import RawTextObject, TableBlock

from bot.core.usage_messages import Chart, ChartKind, ChartSeries
from bot.slack.blocks.kit import clip

MAX_TABLE_ROWS = 100
MAX_TABLE_CELLS = 20
MAX_TABLE_CHARACTERS = 10_000
MAX_TABLES = 1  # per message
MAX_CHARTS = 2  # per message
MAX_CHART_TITLE = 50
MAX_SERIES = 6
MAX_POINTS = 20
MAX_LABEL = 20
MAX_AXIS_LABEL = 50

Json = dict[str, Any]


def table_block(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> tuple[Json, int]:
    """A header row and as many `rows` as fit (100 rows, 10,000 characters); also how many
    rows made it, so the caller can say what was left out. `right`: right-aligned columns."""
    width = min(len(headers), MAX_TABLE_CELLS)

    def cells(row: Sequence[str]) -> list[str]:
        return [clip(text, 200) or "-" for text in list(row)[:width]]

    table = [cells(headers)]
    used = sum(len(c) for c in table[0])
    for row in rows[: MAX_TABLE_ROWS - 1]:
        texts = cells(row)
        size = sum(len(c) for c in texts)
        if used + size > MAX_TABLE_CHARACTERS:
            break
        table.append(texts)
        used += size
    settings = [{"align": "right"} if i in right else None for i in range(width)]
    block = TableBlock(
        rows=[[RawTextObject(text=text) for text in row] for row in table],
        column_settings=settings if any(settings) else None,
    )
    return block.to_dict(), len(table) - 1


def _merged(chart: Chart) -> tuple[list[str], list[list[float | None]]]:
    """At most MAX_POINTS categories: neighbouring ones averaged together, labelled by the last
    of each group (a period's end)."""
    size = max(1, math.ceil(len(chart.categories) / MAX_POINTS))
    labels: list[str] = []
    values: list[list[float | None]] = [[] for _ in chart.series]
    for start in range(0, len(chart.categories), size):
        labels.append(chart.categories[min(start + size, len(chart.categories)) - 1])
        for i, series in enumerate(chart.series):
            group = [v for v in list(series.values)[start : start + size] if v is not None]
            values[i].append(math.fsum(group) / len(group) if group else None)
    return labels, values


def _unique(labels: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for label in labels:
        text = clip(label, MAX_LABEL) or "-"
        n = 2
        while text in seen:
            text = clip(label, MAX_LABEL - 3) + f" #{n}"
            n += 1
        seen.add(text)
        out.append(text)
    return out


def chart_block(chart: Chart, block_id: str | None = None) -> Json | None:
    """The chart as a data_visualization block; None when it has nothing to draw."""
    series = list(chart.series)[:MAX_SERIES]
    if not series:
        return None
    if chart.kind is ChartKind.PIE:
        body = _pie(chart.categories, series[0])
    else:
        body = _xy(Chart(chart.title, chart.kind, chart.categories, series, chart.x_title,
                         chart.y_title))  # fmt: skip
    if body is None:
        return None
    block: Json = {"type": "data_visualization", "title": clip(chart.title, MAX_CHART_TITLE)}
    block["chart"] = body
    if block_id:
        block["block_id"] = block_id
    return block


def _xy(chart: Chart) -> Json | None:
    labels, values = _merged(chart)
    # Every series has a point for every category: drop the categories some series lacks.
    keep = [i for i in range(len(labels)) if all(v[i] is not None for v in values)]
    if not keep:
        return None
    categories = _unique([labels[i] for i in keep])
    names = _unique([s.name for s in chart.series])
    axis: Json = {"categories": categories}
    if chart.x_title:
        axis["x_label"] = clip(chart.x_title, MAX_AXIS_LABEL)
    if chart.y_title:
        axis["y_label"] = clip(chart.y_title, MAX_AXIS_LABEL)
    return {
        "type": chart.kind.value,
        "series": [
            {
                "name": name,
                "data": [
                    {"label": categories[j], "value": round(float(v[i] or 0.0), 2)}
                    for j, i in enumerate(keep)
                ],
            }
            for name, v in zip(names, values, strict=True)
        ],
        "axis_config": axis,
    }


def _pie(categories: Sequence[str], series: ChartSeries) -> Json | None:
    """Slices must be worth more than 0; past six, the smallest are one "Other" slice."""
    slices = sorted(
        ((label, v) for label, v in zip(categories, series.values, strict=False) if v and v > 0),
        key=lambda lv: -lv[1],
    )
    if not slices:
        return None
    if len(slices) > MAX_SERIES:
        rest = math.fsum(v for _, v in slices[MAX_SERIES - 1 :])
        slices = [*slices[: MAX_SERIES - 1], ("Other", rest)]
    labels = _unique([label for label, _ in slices])
    return {
        "type": "pie",
        "segments": [
            {"label": label, "value": round(v, 2)}
            for label, (_, v) in zip(labels, slices, strict=True)
        ],
    }


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"


def chart_lines(chart: Chart) -> list[str]:
    """The chart as plain lines, for a surface (or a third chart) that takes no chart block."""
    lines = [chart.title + (f" ({chart.y_title})" if chart.y_title else "")]
    for series in chart.series:
        pairs = zip(chart.categories, series.values, strict=False)
        points = ", ".join(f"{label} {_number(value)}" for label, value in pairs)
        lines.append(f"{series.name}: {points}" if len(chart.series) > 1 else points)
    return lines
