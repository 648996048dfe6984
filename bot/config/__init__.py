"""Settings: environment variables plus the YAML file, validated once at start. The file's
models in `file`, the environment in `environment` (the only module that reads it); everything
importable from here."""

from __future__ import annotations

from bot.config.environment import Environment as Environment
from bot.config.environment import Settings as Settings
from bot.config.environment import load_environment as load_environment
from bot.config.environment import load_settings as load_settings
from bot.config.environment import secrets_to_mask as secrets_to_mask
from bot.config.environment import url_password as url_password
from bot.config.file import GOOGLE_COMPUTE_ENDPOINT as GOOGLE_COMPUTE_ENDPOINT
from bot.config.file import GOOGLE_MONITORING_ENDPOINT as GOOGLE_MONITORING_ENDPOINT
from bot.config.file import GOOGLE_TPU_ENDPOINT as GOOGLE_TPU_ENDPOINT
from bot.config.file import SLACK_API_URL as SLACK_API_URL
from bot.config.file import ApprovalsConfig as ApprovalsConfig
from bot.config.file import BotConfig as BotConfig
from bot.config.file import ChannelsConfig as ChannelsConfig
from bot.config.file import ConfigError as ConfigError
from bot.config.file import GcpConfig as GcpConfig
from bot.config.file import IdleConfig as IdleConfig
from bot.config.file import LimitsConfig as LimitsConfig
from bot.config.file import ProjectConfig as ProjectConfig
from bot.config.file import RetentionConfig as RetentionConfig
from bot.config.file import RolesConfig as RolesConfig
from bot.config.file import Route as Route
from bot.config.file import RouteMatch as RouteMatch
from bot.config.file import SlackConfig as SlackConfig
from bot.config.file import UsageConfig as UsageConfig
from bot.config.file import WatchConfig as WatchConfig
from bot.config.file import format_errors as format_errors
from bot.config.file import load_bot_config as load_bot_config
from bot.config.file import parse_bot_config as parse_bot_config
