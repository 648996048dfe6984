"""Command text on buttons: Slack takes at most 2,000 characters in a button's value, so a
longer command (a listing with many filters) is kept in the store and the button carries
`ref KEY`; a click brings the key back and the text is recalled."""

from __future__ import annotations

import hashlib
from datetime import datetime

from bot.slack.blocks.kit import MAX_VALUE
from bot.storage.values import Values

REF = "ref"  # what a button carries for a kept command: `ref KEY [more args]`
# Leaves room in a button's value for what the renderer adds (` page=N`).
MAX_CARRIED = MAX_VALUE - 500


class ButtonCarrier:
    """The Carrier port over the store's small values (`ref:KEY` rows, pruned by retention)."""

    def __init__(self, values: Values) -> None:
        self.values = values

    def carry(self, text: str, now: datetime) -> str:
        if len(text) <= MAX_CARRIED:
            return text
        key = hashlib.sha256(text.encode()).hexdigest()[:24]
        self.values.put(None, f"{REF}:{key}", text, now)
        return f"{REF} {key}"

    def recall(self, carried: str) -> str | None:
        if not carried.startswith(REF + " "):
            return carried
        _, _, tail = carried.partition(" ")
        key, _, rest = tail.partition(" ")
        stored = self.values.get(f"{REF}:{key}", "")
        return f"{stored} {rest}".strip() if stored else None

    def prune(self, before: datetime) -> int:
        return self.values.prune_values(f"{REF}:", before)
