"""The renderer's kit: Slack's limits, mrkdwn helpers, block builders, and `render` itself (a
single dispatch each message module registers with)."""

from collections.abc import Sequence
from datetime import datetime
from functools import singledispatch
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.core.models import UNHEALTHY, UNRECOVERABLE, Node, NodeState
from bot.core.names import short_name
from bot.core.text import Channel, Code, Part, Said, Strong, User
from bot.slack.actions import ActionId

MAX_BLOCKS = 50
MAX_VALUE = 2000  # a button's value
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_OPTION = 75
MAX_OPTION_VALUE = 150


Rendered = dict[str, Any]


def esc(text: str) -> str:
    """Escape what Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md(said: Said) -> str:
    """What the bot says, in mrkdwn: the one place its parts get their Slack look."""
    if isinstance(said, str):
        return said
    return "".join(_part(part) for part in said.parts)


def _part(part: Part) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, Code):
        return f"`{esc(part.text)}`"
    if isinstance(part, User):
        return user(part.id)
    if isinstance(part, Channel):
        return channel(part.id)
    if isinstance(part, Strong):
        return f"*{esc(part.text)}*"
    return esc(part.text)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user(user_id: str) -> str:
    return f"<@{user_id}>" if user_id else "someone"


def channel(channel_id: str) -> str:
    return f"<#{channel_id}>"


def when(at: datetime | None) -> str:
    if at is None:
        return "-"
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{at:%Y-%m-%d %H:%M} UTC>"


def ref_text(name: str) -> str:
    """`projects/P/locations/Z/<kind>/ID` (or `zones/Z/...`) -> `P/Z/ID` (what people read and
    type; `P/Z/PARENT/ID` within a parent); anything else unchanged."""
    return short_name(name)


def status_icon(node: Node) -> str:
    if node.state in UNRECOVERABLE:
        return ":black_circle:"
    if node.health in UNHEALTHY:
        return ":red_circle:"
    if node.state is NodeState.READY:
        return ":large_green_circle:"
    if node.state is NodeState.STOPPED:
        return ":white_circle:"
    return ":large_yellow_circle:"


def status_text(node: Node) -> str:
    health = "" if node.health.value == "HEALTH_UNSPECIFIED" else f" · {node.health.value}"
    return f"{status_icon(node)} *{node.state.value}*{health}"


def _md(text: str, limit: int = MAX_SECTION) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, limit))


def _plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=clip(text, limit), emoji=True)


def _button(
    text: str, action_id: str, value: str, style: str | None = None, confirm: Any = None
) -> ButtonElement:
    if len(value) > MAX_VALUE:
        # Never raise after the ack: a button too long to carry its command carries none, and a
        # click on it is refused. (Use cases keep long commands server-side: `ref` values.)
        value = ""
    return ButtonElement(
        text=_plain(text, MAX_BUTTON),
        action_id=action_id,
        value=value,
        style=style,
        confirm=confirm,
    )


def delete_button(
    kind: str, what: str, where: str, command: str, action_id: ActionId = ActionId.DELETE
) -> ButtonElement:
    """A Delete button that asks first ("Delete this node?"): `what` in `where` (or just `what`
    when `where` is empty) will be deleted; `command` is the /tpu text it runs."""
    place = f" in {esc(where)}" if where else ""
    confirm = ConfirmObject(
        title=f"Delete this {kind}?",
        text=_md(f"*{esc(what)}*{place} will be deleted."),
        confirm="Request delete",
        deny="Cancel",
        style="danger",
    )
    return _button("Delete", action_id, command, style="danger", confirm=confirm)


def _message(text: str, blocks: Sequence[Block | dict[str, Any]]) -> Rendered:
    """The message: its text fallback and its blocks (a data block without a slack_sdk model
    comes as a dict already)."""
    dicts = [b if isinstance(b, dict) else b.to_dict() for b in blocks]
    if len(dicts) > MAX_BLOCKS:
        # Degrade rather than fail: the last block says how much was left out.
        left_out = len(dicts) - (MAX_BLOCKS - 1)
        note = _context(f"…and {left_out} more blocks not shown; narrow the query.")
        dicts = [*dicts[: MAX_BLOCKS - 1], note.to_dict()]
    return {"text": clip(text, 3000), "blocks": dicts}


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_md(text))


def _sections(lines: Sequence[str], room: int = MAX_BLOCKS) -> list[Block]:
    """Lines packed into as few sections as 3,000 characters allow, at most `room` blocks."""
    blocks: list[Block] = []
    chunk: list[str] = []
    size = 0
    for line in lines:
        line = clip(line, MAX_SECTION - 10)
        if chunk and size + len(line) + 1 > MAX_SECTION - 10:
            blocks.append(_section("\n".join(chunk)))
            chunk, size = [], 0
            if len(blocks) >= room:
                return blocks
        chunk.append(line)
        size += len(line) + 1
    if chunk and len(blocks) < room:
        blocks.append(_section("\n".join(chunk)))
    return blocks


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[_md(t, MAX_FIELD) for t in texts[:10]])


@singledispatch
def render(message: object) -> Rendered:
    """Neutral message -> {"text": ..., "blocks": [...]}."""
    raise TypeError(f"no renderer for {type(message).__name__}")


_TONES = {"info": "", "success": ":white_check_mark: ", "warning": ":warning: ", "error": ":x: "}
