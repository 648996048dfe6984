"""Pure: neutral messages -> Slack messages (`text` fallback + Block Kit), within Slack's limits.

`render(message)` is the one entry point; each module registers the messages it draws.
"""

from bot.slack.blocks import alerts, answers, nodes, queued, requests
from bot.slack.blocks.kit import MAX_BLOCKS, Rendered, render

__all__ = ["MAX_BLOCKS", "Rendered", "alerts", "answers", "nodes", "queued", "render", "requests"]
