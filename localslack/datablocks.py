"""The `table` and `data_visualization` blocks, checked as their references describe them
(localslack/rules.py says where each limit comes from)."""

from __future__ import annotations

from typing import Any

from localslack.rules import Json, Problems, Rule, limit

CHART_TYPES = ("pie", "bar", "area", "line")
ALIGNMENTS = ("left", "center", "right")


def table(block: Json, found: Problems, pointer: str) -> None:
    rows = block.get("rows")
    if not isinstance(rows, list) or not rows:
        found.other("must provide at least 1 row", f"{pointer}/rows")
        return
    found.count(rows, Rule.TABLE_ROWS, f"{pointer}/rows")
    characters = 0
    for r, row in enumerate(rows):
        if not isinstance(row, list):
            found.other("must be an array", f"{pointer}/rows/{r}")
            continue
        for c, cell in enumerate(found.count(row, Rule.TABLE_CELLS, f"{pointer}/rows/{r}")):
            characters += _cell(cell, found, f"{pointer}/rows/{r}/{c}")
    if characters > limit(Rule.TABLE_CHARACTERS):
        found.add(Rule.TABLE_CHARACTERS, f"{pointer}/rows")
    where = f"{pointer}/column_settings"
    for i, setting in enumerate(
        found.count(block.get("column_settings"), Rule.TABLE_COLUMN_SETTINGS, where)
    ):
        if setting is None:
            continue  # a gap: that column keeps the default
        if not isinstance(setting, dict) or setting.get("align", "left") not in ALIGNMENTS:
            found.other("must be left, center or right", f"{where}/{i}/align")


def _cell(cell: Any, found: Problems, pointer: str) -> int:
    """Check one cell; how many characters it holds."""
    kind = cell.get("type") if isinstance(cell, dict) else None
    if kind == "raw_text":
        text = cell.get("text")
        if not isinstance(text, str) or len(text) < limit(Rule.TABLE_CELL_TEXT):
            found.add(Rule.TABLE_CELL_TEXT, f"{pointer}/text")
            return 0
        return len(text)
    if kind == "rich_text" and isinstance(cell.get("elements"), list):
        return _rich_characters(cell["elements"])
    found.add(Rule.TABLE_CELL_TYPE, f"{pointer}/type")
    return 0


def _rich_characters(items: list[Any]) -> int:
    total = 0
    for item in items:
        if isinstance(item, dict):
            total += len(item["text"]) if isinstance(item.get("text"), str) else 0
            total += _rich_characters(item.get("elements") or [])
    return total


def chart(block: Json, found: Problems, pointer: str) -> None:
    title = block.get("title")
    if not isinstance(title, str) or not title:
        found.other("must provide a title", f"{pointer}/title")
    found.text(title, Rule.CHART_TITLE, f"{pointer}/title")
    body = block.get("chart")
    kind = body.get("type") if isinstance(body, dict) else None
    if not isinstance(body, dict) or kind not in CHART_TYPES:
        found.add(Rule.CHART_TYPE, f"{pointer}/chart/type")
        return
    if kind == "pie":
        _pie(body, found, f"{pointer}/chart")
    else:
        _series_chart(body, found, f"{pointer}/chart")


def _at_least_one(items: Any, rule: Rule, found: Problems, pointer: str) -> list[Any]:
    if not isinstance(items, list) or not items:
        found.other("must provide at least 1 item", pointer)
        return []
    return found.count(items, rule, pointer)


def _labelled(point: Any, found: Problems, pointer: str) -> str | None:
    """A segment or data point: a label of at most 20 characters and a number."""
    if not isinstance(point, dict) or not isinstance(point.get("label"), str):
        found.other("must provide a label", f"{pointer}/label")
        return None
    found.text(point["label"], Rule.CHART_LABEL, f"{pointer}/label")
    value = point.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        found.add(Rule.CHART_VALUE, f"{pointer}/value")
    return str(point["label"])


def _pie(body: Json, found: Problems, pointer: str) -> None:
    where = f"{pointer}/segments"
    for i, segment in enumerate(
        _at_least_one(body.get("segments"), Rule.PIE_SEGMENTS, found, where)
    ):
        _labelled(segment, found, f"{where}/{i}")


def _series_chart(body: Json, found: Problems, pointer: str) -> None:
    categories = _axis(body.get("axis_config"), found, f"{pointer}/axis_config")
    names: set[str] = set()
    where = f"{pointer}/series"
    for i, series in enumerate(_at_least_one(body.get("series"), Rule.CHART_SERIES, found, where)):
        name = series.get("name") if isinstance(series, dict) else None
        if not isinstance(name, str) or not name or name in names:
            found.other("must provide a unique name", f"{where}/{i}/name")
        else:
            found.text(name, Rule.SERIES_NAME, f"{where}/{i}/name")
            names.add(name)
        data = series.get("data") if isinstance(series, dict) else None
        for j, point in enumerate(
            _at_least_one(data, Rule.SERIES_POINTS, found, f"{where}/{i}/data")
        ):
            label = _labelled(point, found, f"{where}/{i}/data/{j}")
            if label is not None and categories is not None and label not in categories:
                found.add(Rule.POINTS_MATCH_CATEGORIES, f"{where}/{i}/data/{j}/label")


def _axis(axis: Any, found: Problems, pointer: str) -> set[str] | None:
    """The x-axis categories (None when the axis config itself is wrong)."""
    if not isinstance(axis, dict) or not isinstance(axis.get("categories"), list):
        found.other("must provide axis_config.categories", pointer)
        return None
    for key in ("x_label", "y_label"):
        found.text(axis.get(key), Rule.AXIS_LABEL, f"{pointer}/{key}")
    categories: set[str] = set()
    for i, category in enumerate(axis["categories"]):
        if not isinstance(category, str):
            found.other("must be a string", f"{pointer}/categories/{i}")
            continue
        found.text(category, Rule.CHART_LABEL, f"{pointer}/categories/{i}")
        categories.add(category)
    return categories
