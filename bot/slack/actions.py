"""Every interactive element the bot renders: its action id, and how a click becomes `/tpu` text.

Buttons carry the text of the command they run in their value. A select carries the command
without its last argument in its block id (`cmd:reimage p/z/n`) and the argument in each option's
value, which keeps option values under Slack's 150 characters.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

COMMAND_BLOCK = "cmd:"  # block_id prefix of a block whose select completes a command


class ActionId(enum.StrEnum):
    STOP = "node_stop"
    START = "node_start"
    REIMAGE = "node_reimage"
    REIMAGE_VERSION = "node_reimage_version"
    DELETE = "node_delete"
    RECREATE = "node_recreate"
    RECREATE_RUNTIME = "node_recreate_runtime"
    REQUEUE = "requeue"
    QUEUE_DELETE = "queue_delete"
    QUEUE_RESET = "queue_reset"
    QUEUE_CANCEL = "queue_cancel"  # a flex-start request still waiting
    MAINTENANCE = "maintenance_start"
    PAGE_NEXT = "list_page"
    PAGE_PREVIOUS = "list_page_prev"
    APPROVE = "approval_approve"
    DENY = "approval_deny"
    ACK = "incident_ack"
    MUTE = "incident_mute"
    KEEP = "node_keep"  # an idle TPU kept out of the sweep for a while
    # Buttons that show something (the Home tab's); each id once in its block, as Slack asks.
    SHOW_IDLE = "show_idle"
    SHOW_USAGE = "show_usage"
    SHOW_QUEUE = "show_queue"

    def replaces_original(self, answer_is_page: bool) -> bool:
        """Whether the answer replaces the clicked message: a picker gives way to what became of
        the request; a listing gives way only to another page (a refusal is said beside it)."""
        if self in (ActionId.REIMAGE_VERSION, ActionId.RECREATE_RUNTIME):
            return True
        if self in (ActionId.PAGE_NEXT, ActionId.PAGE_PREVIOUS):
            return answer_is_page
        return False


def known(action_id: str) -> ActionId | None:
    try:
        return ActionId(action_id)
    except ValueError:
        return None


def command_text(action: Mapping[str, Any]) -> str:
    """The `/tpu` text a clicked element carries ('' when it carries none)."""
    selected = action.get("selected_option")
    if isinstance(selected, Mapping):
        block = str(action.get("block_id", ""))
        if not block.startswith(COMMAND_BLOCK):
            return ""
        return f"{block[len(COMMAND_BLOCK) :]} {selected.get('value', '')}".strip()
    return str(action.get("value", "")).strip()
