"""What Slack refuses, as localslack refuses it: one row per rule, each with its source.

Slack's documented errors and limits decide these; a lenient stand-in hides bugs. Where a
reference page says a number, the row quotes it; where only Slack's own SDKs or independent
reports say it, the source says so. Every rule has a test: tests/scenarios/test_localslack_rules.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Json = dict[str, Any]

REF = "https://docs.slack.dev/reference"
BLOCKS = f"{REF}/block-kit/blocks"
ELEMENTS = f"{REF}/block-kit/block-elements"
OBJECTS = f"{REF}/block-kit/composition-objects"
DATA_VIZ = f"{BLOCKS}/data-visualization-block"
TABLE = f"{BLOCKS}/table-block"


class Rule(StrEnum):
    BLOCKS_IN_MESSAGE = "blocks_in_message"
    BLOCKS_IN_VIEW = "blocks_in_view"
    BLOCK_ID_LENGTH = "block_id_length"
    BLOCK_ID_UNIQUE = "block_id_unique"
    SECTION_TEXT = "section_text"
    SECTION_FIELDS = "section_fields"
    SECTION_FIELD_TEXT = "section_field_text"
    HEADER_TEXT = "header_text"
    BUTTON_TEXT = "button_text"
    BUTTON_VALUE = "button_value"
    BUTTON_URL = "button_url"
    ACTION_ID_LENGTH = "action_id_length"
    ACTION_ID_UNIQUE = "action_id_unique"
    OPTION_TEXT = "option_text"
    OPTION_VALUE = "option_value"
    SELECT_OPTIONS = "select_options"
    ACTIONS_ELEMENTS = "actions_elements"
    CONTEXT_ELEMENTS = "context_elements"
    IMAGE_ALT_TEXT = "image_alt_text"
    IMAGE_URL = "image_url"
    TABLES_IN_MESSAGE = "tables_in_message"
    TABLE_ROWS = "table_rows"
    TABLE_CELLS = "table_cells"
    TABLE_CELL_TYPE = "table_cell_type"
    TABLE_CELL_TEXT = "table_cell_text"
    TABLE_CHARACTERS = "table_characters"
    TABLE_COLUMN_SETTINGS = "table_column_settings"
    CHARTS_IN_MESSAGE = "charts_in_message"
    CHART_TITLE = "chart_title"
    CHART_TYPE = "chart_type"
    PIE_SEGMENTS = "pie_segments"
    CHART_SERIES = "chart_series"
    SERIES_NAME = "series_name"
    SERIES_POINTS = "series_points"
    CHART_LABEL = "chart_label"
    CHART_VALUE = "chart_value"
    AXIS_LABEL = "axis_label"
    POINTS_MATCH_CATEGORIES = "points_match_categories"
    EPHEMERAL_USER_NOT_IN_CHANNEL = "ephemeral_user_not_in_channel"
    EPHEMERAL_BOT_NOT_IN_PUBLIC = "ephemeral_bot_not_in_public"
    EPHEMERAL_BOT_NOT_IN_PRIVATE = "ephemeral_bot_not_in_private"
    RESPONSE_URL_USES = "response_url_uses"
    RESPONSE_URL_AGE = "response_url_age"
    VIEWS_PUBLISH_USER = "views_publish_user"
    VIEWS_PUBLISH_HASH = "views_publish_hash"
    EPHEMERAL_CLICK_PAYLOAD = "ephemeral_click_payload"


@dataclass(frozen=True)
class Facts:
    """Slack's answer when the rule is broken, the limit it names (if any), where it is said."""

    error: str
    source: str
    limit: int = 0
    status: int = 200  # HTTP status of the refusal (Web API errors are 200 with ok: false)
    says: str = ""  # the message in `errors` ({limit} is filled in)


def _length(source: str, limit: int) -> Facts:
    return Facts("invalid_blocks", source, limit, says="must be less than {over} characters")


def _count(source: str, limit: int) -> Facts:
    return Facts("invalid_blocks", source, limit, says="must have no more than {limit} items")


TABLE_ROWS_LIMIT = 100

RULES: dict[Rule, Facts] = {
    Rule.BLOCKS_IN_MESSAGE: _count(BLOCKS, 50),  # "up to 50 blocks in each message"
    Rule.BLOCKS_IN_VIEW: _count(BLOCKS, 100),  # "and 100 blocks in modals or Home tabs"
    Rule.BLOCK_ID_LENGTH: _length(f"{BLOCKS}/section-block", 255),
    # "block_id should be unique for each message and each iteration of a message"
    Rule.BLOCK_ID_UNIQUE: Facts("invalid_blocks", f"{BLOCKS}/section-block", says="is not unique"),
    # The button element's action_id "should be unique among all other action_ids in the
    # containing block"; Slack refuses the message (invalid_blocks), as knacklabs/gantry#458
    # saw live with two buttons of one id.
    Rule.ACTION_ID_UNIQUE: Facts(
        "invalid_blocks",
        "https://docs.slack.dev/reference/block-kit/block-elements/button-element",
        says="is not unique",
    ),
    Rule.SECTION_TEXT: _length(f"{BLOCKS}/section-block", 3000),
    Rule.SECTION_FIELDS: _count(f"{BLOCKS}/section-block", 10),
    Rule.SECTION_FIELD_TEXT: _length(f"{BLOCKS}/section-block", 2000),
    Rule.HEADER_TEXT: _length(f"{BLOCKS}/header-block", 150),
    Rule.BUTTON_TEXT: _length(f"{ELEMENTS}/button-element", 75),
    Rule.BUTTON_VALUE: _length(f"{ELEMENTS}/button-element", 2000),
    Rule.BUTTON_URL: _length(f"{ELEMENTS}/button-element", 3000),
    Rule.ACTION_ID_LENGTH: _length(f"{ELEMENTS}/button-element", 255),
    Rule.OPTION_TEXT: _length(f"{OBJECTS}/option-object", 75),
    Rule.OPTION_VALUE: _length(f"{OBJECTS}/option-object", 150),
    Rule.SELECT_OPTIONS: _count(f"{ELEMENTS}/select-menu-element", 100),
    Rule.ACTIONS_ELEMENTS: _count(f"{BLOCKS}/actions-block", 25),
    Rule.CONTEXT_ELEMENTS: _count(f"{BLOCKS}/context-block", 10),
    Rule.IMAGE_ALT_TEXT: _length(f"{BLOCKS}/image-block", 2000),
    Rule.IMAGE_URL: _length(f"{BLOCKS}/image-block", 3000),
    # The table block's usage info: one table per message (quoted by vercel/chat#194,
    # netclaw-dev/netclaw#55; a second one is refused).
    Rule.TABLES_IN_MESSAGE: Facts("invalid_blocks", TABLE, 1, says="only one table is allowed"),
    Rule.TABLE_ROWS: _count(TABLE, TABLE_ROWS_LIMIT),  # "Maximum 100 rows"
    Rule.TABLE_CELLS: _count(TABLE, 20),  # "Each row ... a max of 20 table cells"
    # "Table cells can have a type of raw_text or rich_text" (slack_sdk 3.48 adds raw_number,
    # which the reference does not list for this block: refused until it does).
    Rule.TABLE_CELL_TYPE: Facts("invalid_blocks", TABLE, says="must be raw_text or rich_text"),
    # slack_sdk's RawTextObject: "text attribute must have at least 1 character"; Slack answers
    # an empty cell "must be more than 0 characters" (getnao/nao#1143).
    Rule.TABLE_CELL_TEXT: Facts("invalid_blocks", TABLE, 1, says="must be more than 0 characters"),
    # The usage info: 10,000 characters across all cells (quoted by getnao/nao#1178 and
    # vellum-ai/vellum-assistant#36219).
    Rule.TABLE_CHARACTERS: _length(TABLE, 10000),
    Rule.TABLE_COLUMN_SETTINGS: _count(TABLE, 20),  # "Maximum 20 items"
    # Two charts a message (the block's usage info, as slack-morphism documents it).
    Rule.CHARTS_IN_MESSAGE: _count(DATA_VIZ, 2),
    Rule.CHART_TITLE: _length(DATA_VIZ, 50),  # "Maximum 50 characters"
    Rule.CHART_TYPE: Facts("invalid_blocks", DATA_VIZ, says="must be pie, bar, area or line"),
    Rule.PIE_SEGMENTS: _count(DATA_VIZ, 6),  # "Min 1, max 6"
    Rule.CHART_SERIES: _count(DATA_VIZ, 6),  # bar, area, line: "Min 1, max 6"
    Rule.SERIES_NAME: _length(f"{DATA_VIZ}#data-series", 20),  # names unique too
    Rule.SERIES_POINTS: _count(f"{DATA_VIZ}#data-series", 20),  # "Min 1, Max 20"
    Rule.CHART_LABEL: _length(f"{DATA_VIZ}#data-point", 20),  # points, segments, categories
    Rule.CHART_VALUE: Facts("invalid_blocks", f"{DATA_VIZ}#data-point", says="must be a number"),
    Rule.AXIS_LABEL: _length(f"{DATA_VIZ}#axis-config", 50),  # x_label, y_label
    Rule.POINTS_MATCH_CATEGORIES: Facts(
        "invalid_blocks",
        f"{DATA_VIZ}#axis-config",  # "Labels must match axis categories" (slack-messaging)
        says="must be one of axis_config.categories",
    ),
    Rule.EPHEMERAL_USER_NOT_IN_CHANNEL: Facts(
        "user_not_in_channel", f"{REF}/methods/chat.postEphemeral"
    ),  # "Intended recipient is not in the specified channel."
    # Listed in the method's errors; apps report it for ephemerals where the bot is not (prox#30,
    # lockbot#11). That chat:write.public does not lift it for ephemerals is an assumption.
    Rule.EPHEMERAL_BOT_NOT_IN_PUBLIC: Facts("not_in_channel", f"{REF}/methods/chat.postEphemeral"),
    # A private channel is invisible to a non-member: it is not found (the Web API's answer for
    # a conversation the token cannot see).
    Rule.EPHEMERAL_BOT_NOT_IN_PRIVATE: Facts(
        "channel_not_found", f"{REF}/methods/chat.postEphemeral"
    ),
    # "use the response_url up to five times within 30 minutes" (handling user interaction).
    # What Slack answers past that is in no reference found: 404 with these names is this
    # stand-in's assumption (a refusal the bot must not retry, in any case).
    Rule.RESPONSE_URL_USES: Facts(
        "used_url", "https://docs.slack.dev/interactivity/handling-user-interaction", 5, 404
    ),
    Rule.RESPONSE_URL_AGE: Facts(
        "expired_url", "https://docs.slack.dev/interactivity/handling-user-interaction", 1800, 404
    ),
    Rule.VIEWS_PUBLISH_USER: Facts("invalid_arguments", f"{REF}/methods/views.publish"),
    Rule.VIEWS_PUBLISH_HASH: Facts("hash_conflict", f"{REF}/methods/views.publish"),
    # Not a refusal but a payload: a click on an ephemeral message carries no `message`, and its
    # container says is_ephemeral (the block_actions payload reference).
    Rule.EPHEMERAL_CLICK_PAYLOAD: Facts(
        "", "https://docs.slack.dev/reference/interaction-payloads/block_actions-payload"
    ),
}


def limit(rule: Rule) -> int:
    return RULES[rule].limit


def message(rule: Rule, pointer: str) -> str:
    """One entry of an `invalid_blocks` answer's `errors`, as Slack words them."""
    facts = RULES[rule]
    text = facts.says.format(limit=facts.limit, over=facts.limit + 1)
    return f"{text} [json-pointer:{pointer}]"


class Problems:
    """The `errors` of one `invalid_blocks` answer, gathered while walking the blocks."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, rule: Rule, pointer: str) -> None:
        self.errors.append(message(rule, pointer))

    def text(self, value: Any, rule: Rule, pointer: str) -> None:
        """A string (or a text object's `text`) no longer than the rule allows."""
        if isinstance(value, dict):
            value, pointer = value.get("text"), f"{pointer}/text"
        if isinstance(value, str) and len(value) > limit(rule):
            self.add(rule, pointer)

    def count(self, items: Any, rule: Rule, pointer: str) -> list[Any]:
        """The items of a list no longer than the rule allows (an empty list if not a list)."""
        if not isinstance(items, list):
            return []
        if len(items) > limit(rule):
            self.add(rule, pointer)
        return items

    def other(self, why: str, pointer: str) -> None:
        self.errors.append(f"{why} [json-pointer:{pointer}]")
