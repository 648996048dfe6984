"""A private note Slack would not deliver, drawn again as a reply that mentions its person."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.slack.blocks.kit import MAX_BLOCKS, Rendered, _context, clip, user


def told_in_thread(note: Mapping[str, Any], person: str, why: str) -> Rendered:
    """`note` (a rendered ephemeral) as a thread reply that names `person`: Slack refused to
    show it to them alone (`why`: its error, such as user_not_in_channel)."""
    intro = _context(
        f"{user(person)}, this was meant for you alone, but Slack would not show it to you "
        f"privately (`{why}`), so it is here."
    ).to_dict()
    blocks = [intro, *list(note.get("blocks") or [])][:MAX_BLOCKS]
    return {"text": clip(f"{user(person)} {note.get('text', '')}", 3000), "blocks": blocks}
