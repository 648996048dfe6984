"""Pure: neutral messages -> Slack messages (`text` fallback + Block Kit), within Slack's limits.

`render(message)` is the one entry point; each module registers the messages it draws
(home.py's FleetHome renders to a `views.publish` home view instead of a message).
"""

from bot.slack.blocks import alerts, answers, compute, home, nodes, queued, requests, usage
from bot.slack.blocks.kit import MAX_BLOCKS, Rendered, render

__all__ = [
    "MAX_BLOCKS",
    "Rendered",
    "alerts",
    "answers",
    "compute",
    "home",
    "nodes",
    "queued",
    "render",
    "requests",
    "usage",
]
