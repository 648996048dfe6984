"""A local stand-in for Slack: Web API, response_url, Socket Mode, and a driver for the bot.

Used by the tests and by the local demo alike.
"""

from localslack.blockkit import Surface
from localslack.rules import RULES, Rule
from localslack.server import Delivery, LocalSlack, SlackWebApp, SocketModeHub
from localslack.workspace import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER,
    DEFAULT_SCOPES,
    SIGNING_SECRET,
    Message,
    SlackError,
    Workspace,
    validate_blocks,
)

__all__ = [
    "APP_TOKEN",
    "BOT_TOKEN",
    "BOT_USER",
    "DEFAULT_SCOPES",
    "RULES",
    "SIGNING_SECRET",
    "Delivery",
    "LocalSlack",
    "Message",
    "Rule",
    "SlackError",
    "SlackWebApp",
    "SocketModeHub",
    "Surface",
    "Workspace",
    "validate_blocks",
]
