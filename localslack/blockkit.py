"""Block Kit as Slack's `invalid_blocks` checks it: counts, lengths and ids, with a JSON pointer
to each problem (localslack/rules.py says where each limit comes from)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from localslack.datablocks import chart, table
from localslack.rules import Json, Problems, Rule, limit


class Surface(StrEnum):
    MESSAGE = "message"
    HOME = "home"
    MODAL = "modal"


# The block types Slack documents (slack_sdk 3.48's, and the two data blocks it has no model
# for); anything else is refused.
KNOWN = frozenset(
    {
        "actions", "context", "context_actions", "divider", "file", "call", "header", "image",
        "input", "markdown", "rich_text", "section", "video", "table", "task_card", "plan",
        "alert", "card", "container", "carousel", "auth_provider", "data_visualization",
        "data_table",
    }
)  # fmt: skip
# Checked here to the letter; slack_sdk's models (which know no charts) are not asked.
OWN = frozenset({"table", "data_visualization"})


def block_problems(blocks: Any, surface: Surface = Surface.MESSAGE) -> list[str]:
    """Every reason Slack would refuse these blocks (empty: none)."""
    found = Problems()
    if not isinstance(blocks, list):
        found.other("must be an array", "/blocks")
        return found.errors
    per_message = Rule.BLOCKS_IN_MESSAGE if surface == Surface.MESSAGE else Rule.BLOCKS_IN_VIEW
    found.count(blocks, per_message, "/blocks")
    ids: set[str] = set()
    for i, block in enumerate(blocks):
        pointer = f"/blocks/{i}"
        if not isinstance(block, dict) or block.get("type") not in KNOWN:
            found.other("unsupported type", f"{pointer}/type")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            found.text(block_id, Rule.BLOCK_ID_LENGTH, f"{pointer}/block_id")
            if block_id in ids:
                found.add(Rule.BLOCK_ID_UNIQUE, f"{pointer}/block_id")
            ids.add(block_id)
        before = len(found.errors)
        _CHECKS.get(block["type"], _nothing)(block, found, pointer)
        if block["type"] not in OWN and len(found.errors) == before:
            _sdk_check(block, found, pointer)  # one answer per problem, ours first
    _per_message(blocks, found)
    return found.errors


def _per_message(blocks: list[Any], found: Problems) -> None:
    """One table and two charts a message: the first one too many is named."""
    for kind, rule in (
        ("table", Rule.TABLES_IN_MESSAGE),
        ("data_visualization", Rule.CHARTS_IN_MESSAGE),
    ):
        places = [i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("type") == kind]
        if len(places) > limit(rule):
            found.add(rule, f"/blocks/{places[limit(rule)]}")


def _sdk_check(block: Json, found: Problems, pointer: str) -> None:
    """What slack_sdk's models require besides (a missing field, a wrong object type)."""
    try:
        parsed = Block.parse(block)
        if parsed is not None:
            parsed.validate_json()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError) as exc:
        found.other(str(exc).split("\n")[0] or "invalid block", pointer)


def _nothing(block: Json, found: Problems, pointer: str) -> None:
    return None


def _section(block: Json, found: Problems, pointer: str) -> None:
    text, fields = block.get("text"), block.get("fields")
    if not (isinstance(text, dict) and text.get("text")) and not fields:
        found.other("must provide text or fields", pointer)
    found.text(text, Rule.SECTION_TEXT, f"{pointer}/text")
    for j, field in enumerate(found.count(fields, Rule.SECTION_FIELDS, f"{pointer}/fields")):
        found.text(field, Rule.SECTION_FIELD_TEXT, f"{pointer}/fields/{j}")
    if isinstance(block.get("accessory"), dict):
        element(block["accessory"], found, f"{pointer}/accessory")


def _header(block: Json, found: Problems, pointer: str) -> None:
    found.text(block.get("text"), Rule.HEADER_TEXT, f"{pointer}/text")


def _actions(block: Json, found: Problems, pointer: str) -> None:
    elements = found.count(block.get("elements"), Rule.ACTIONS_ELEMENTS, f"{pointer}/elements")
    seen: set[str] = set()
    for j, item in enumerate(elements):
        if isinstance(item, dict):
            element(item, found, f"{pointer}/elements/{j}")
            action_id = item.get("action_id")
            if isinstance(action_id, str) and action_id in seen:
                found.add(Rule.ACTION_ID_UNIQUE, f"{pointer}/elements/{j}/action_id")
            seen.add(str(action_id))


def _context(block: Json, found: Problems, pointer: str) -> None:
    elements = found.count(block.get("elements"), Rule.CONTEXT_ELEMENTS, f"{pointer}/elements")
    for j, item in enumerate(elements):
        if isinstance(item, dict) and item.get("type") == "image":
            found.text(item.get("image_url"), Rule.IMAGE_URL, f"{pointer}/elements/{j}/image_url")


def _image(block: Json, found: Problems, pointer: str) -> None:
    found.text(block.get("alt_text"), Rule.IMAGE_ALT_TEXT, f"{pointer}/alt_text")
    found.text(block.get("image_url"), Rule.IMAGE_URL, f"{pointer}/image_url")


def element(item: Json, found: Problems, pointer: str) -> None:
    """An interactive element: its action_id, a button's text, value and url, a menu's options."""
    found.text(item.get("action_id"), Rule.ACTION_ID_LENGTH, f"{pointer}/action_id")
    if item.get("type") == "button":
        found.text(item.get("text"), Rule.BUTTON_TEXT, f"{pointer}/text")
        found.text(item.get("value"), Rule.BUTTON_VALUE, f"{pointer}/value")
        found.text(item.get("url"), Rule.BUTTON_URL, f"{pointer}/url")
    if item.get("type") == "image":
        found.text(item.get("image_url"), Rule.IMAGE_URL, f"{pointer}/image_url")
    options = item.get("options")
    if item.get("type") in ("static_select", "multi_static_select"):
        options = found.count(options, Rule.SELECT_OPTIONS, f"{pointer}/options")
    for j, option in enumerate(options if isinstance(options, list) else []):
        if isinstance(option, dict):
            found.text(option.get("text"), Rule.OPTION_TEXT, f"{pointer}/options/{j}/text")
            found.text(option.get("value"), Rule.OPTION_VALUE, f"{pointer}/options/{j}/value")


_CHECKS: dict[str, Any] = {
    "section": _section,
    "header": _header,
    "actions": _actions,
    "context": _context,
    "image": _image,
    "table": table,
    "data_visualization": chart,
}
