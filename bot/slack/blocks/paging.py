"""One way to draw a page of a listing (TPUs, queued resources...): a header, what matched and
how many, a note when some zones did not answer, the cards, and Previous / Next buttons that
carry the listing's own command with its page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, DividerBlock, HeaderBlock

from bot.slack.actions import ActionId
from bot.slack.blocks.kit import (
    MAX_HEADER,
    Rendered,
    _button,
    _context,
    _message,
    _plain,
    _section,
    esc,
)


@dataclass(frozen=True)
class Page:
    """What a page says of its listing, whatever it lists."""

    title: str  # "TPUs"
    noun: str  # "TPUs": "No TPUs match ...", "TPUs 1-10 of 28 ..."
    query: str  # the `/tpu` text that lists them, without page=
    total: int
    page: int
    page_size: int
    shown: int
    summary: Sequence[tuple[str, int]] = ()
    unreachable: Sequence[str] = ()
    nav_id: str = "list_nav"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def paged(page: Page, cards: Sequence[Sequence[Block]]) -> Rendered:
    first = page.page * page.page_size + 1
    last = min(page.total, first + page.shown - 1)
    blocks: list[Block] = [HeaderBlock(text=_plain(page.title, MAX_HEADER))]
    scope = f"`/tpu {esc(page.query)}`"
    if page.total == 0:
        text = f"No {page.noun} match {scope}."
        blocks.append(_section(text))
    else:
        text = f"{page.noun[:1].upper()}{page.noun[1:]} {first}-{last} of {page.total} for {scope}"
        counts = " · ".join(f"{esc(k)} {v}" for k, v in page.summary)
        blocks.append(_context(text, counts or " "))
    if page.unreachable:
        zones = ", ".join(esc(z.rsplit("/", 1)[-1]) for z in page.unreachable)
        blocks.append(_context(f":warning: Partial listing: no answer from {zones}."))
    for card in cards:
        blocks.extend(card)
    nav: list[ButtonElement] = []
    if page.page > 0:
        previous = f"{page.query} page={page.page - 1}"
        nav.append(_button("< Previous", ActionId.PAGE_PREVIOUS, previous))
    if last < page.total:
        nav.append(_button("Next >", ActionId.PAGE_NEXT, f"{page.query} page={page.page + 1}"))
    if nav:
        blocks.append(DividerBlock())
        blocks.append(ActionsBlock(block_id=page.nav_id, elements=nav))
        blocks.append(_context(f"Page {page.page + 1} of {page.pages}"))
    return _message(text, blocks)
