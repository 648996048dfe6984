"""The process environment (tokens, endpoints, the database, the HTTP server) and the settings
made of it and the file. This is the only module that reads the environment."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config.file import (
    GOOGLE_COMPUTE_ENDPOINT,
    GOOGLE_MONITORING_ENDPOINT,
    GOOGLE_TPU_ENDPOINT,
    SLACK_API_URL,
    BotConfig,
    ConfigError,
    format_errors,
    load_bot_config,
)


class Environment(BaseSettings):
    """Process environment; secrets stay SecretStr so they never print."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    SLACK_BOT_TOKEN: SecretStr | None = None
    SLACK_SIGNING_SECRET: SecretStr | None = None
    SLACK_APP_TOKEN: SecretStr | None = None
    SLACK_API_URL: str = SLACK_API_URL
    TPU_API_ENDPOINT: str = GOOGLE_TPU_ENDPOINT
    # Compute Engine's root (the emulator's root); the client adds `compute/v1/`.
    COMPUTE_API_ENDPOINT: str = GOOGLE_COMPUTE_ENDPOINT
    MONITORING_API_ENDPOINT: str = GOOGLE_MONITORING_ENDPOINT
    TPUBOT_CONFIG: str = "./tpubot.yaml"
    TPUBOT_DATABASE_URL: str = "sqlite:///./tpubot.db"
    TPUBOT_LOG_LEVEL: str = "INFO"
    # This replica's name, stable across its restarts and unique among live replicas (the pod
    # name; default: the host name). An attempt its earlier boot claimed is taken over at once.
    TPUBOT_REPLICA_ID: str | None = Field(default=None, min_length=1, max_length=120)
    PORT: int = 3000
    # The HTTP server (HTTP mode). Slack's payloads are well under the body limit; an idle or
    # half-sent connection is closed after the idle timeout; the connection limit caps sockets.
    TPUBOT_HTTP_THREADS: int = Field(default=8, ge=1, le=64)
    TPUBOT_HTTP_CONNECTION_LIMIT: int = Field(default=1000, ge=10, le=100_000)
    TPUBOT_HTTP_IDLE_TIMEOUT_SECONDS: float = Field(default=65.0, ge=1, le=3600)
    TPUBOT_HTTP_MAX_BODY_BYTES: int = Field(default=1024 * 1024, ge=64 * 1024)
    # SIGTERM: keep answering (readiness 503) for the delay, then stop within the budget; keep
    # delay + budget under the pod's terminationGracePeriodSeconds (30 s by default).
    TPUBOT_SHUTDOWN_DELAY_SECONDS: float = Field(default=0.0, ge=0, le=60)
    TPUBOT_SHUTDOWN_SECONDS: float = Field(default=25.0, gt=0, le=600)


class Settings(BaseModel):
    """Everything the process was configured with."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    env: Environment
    bot: BotConfig

    @property
    def socket_mode(self) -> bool:
        return self.env.SLACK_APP_TOKEN is not None


def load_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """Read the environment (or a given mapping, for tests)."""
    try:
        if environ is None:
            return Environment()
        known = {k: v for k, v in environ.items() if k in Environment.model_fields}
        return Environment.model_validate(known)
    except ValidationError as exc:
        raise ConfigError(format_errors("environment", exc)) from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = load_environment(environ)
    return Settings(env=env, bot=load_bot_config(env.TPUBOT_CONFIG))


def secrets_to_mask(environ: Mapping[str, str] | None = None) -> list[str]:
    """The secret values in the environment, for the log filter to mask wherever they appear."""
    try:
        env = load_environment(environ)
    except ConfigError:
        return []
    found = [
        secret.get_secret_value()
        for secret in (env.SLACK_BOT_TOKEN, env.SLACK_SIGNING_SECRET, env.SLACK_APP_TOKEN)
        if secret is not None
    ]
    return found + url_password(env.TPUBOT_DATABASE_URL)


def url_password(url: str) -> list[str]:
    """The password in a database URL (`postgresql://user:PASSWORD@host/db`) as written and
    decoded, to be masked in either form; [] when there is none."""
    _, sep, rest = url.partition("://")
    credentials, at, _ = rest.rpartition("@")
    _, colon, password = credentials.partition(":")
    if not (sep and at and colon and password):
        return []
    return sorted({password, unquote(password)})
