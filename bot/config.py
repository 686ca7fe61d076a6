"""Settings from the environment and a `.env` file, with one clear line per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_WHERE = "set it in the environment or in the .env file (see .env.example)"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and where to set it."""


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    discord_token: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    discord_api_base: str | None = None
    chat_model: str = "gpt-4o-mini"
    embed_model: str = "text-embedding-3-small"
    embed_dimensions: int | None = Field(default=512, ge=16, le=8192)
    # Tokens the embedding model reads per input (blank: known from the model's name); chunks fit in it.
    embed_max_tokens: int | None = Field(default=None, ge=32)
    # Tokens per indexed chunk (blank: 512); one longer than the model reads is embedded in parts.
    chunk_tokens: int | None = Field(default=None, ge=64, le=4000)
    # Languages a question is also searched in, translated by the chat model (empty: only as asked).
    query_languages: str = "English"
    image_model: str = "gpt-image-1"
    moderation_model: str = "omni-moderation-latest"
    vision: bool = True
    data_dir: Path = Path("./data")
    dev_guild_id: int | None = None
    log_level: str = "INFO"

    context_tokens: int = Field(default=16000, ge=1000)
    reply_tokens: int = Field(default=1500, ge=64)
    request_timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_upload_mb: float = Field(default=25.0, gt=0)
    max_files_per_upload: int = Field(default=3, ge=1, le=10)
    watch_channel_ids: str = ""
    allowed_guild_ids: str = ""

    # Team controls: defaults for every server; /settings overrides them per server (0: no limit).
    docs_in_chat: bool = False
    moderation: bool = False
    reply_language: Literal["auto", "en", "ja"] = "auto"
    user_requests_per_minute: int = Field(default=10, ge=0)
    server_requests_per_minute: int = Field(default=60, ge=0)
    user_tokens_per_day: int = Field(default=200_000, ge=0)
    user_tokens_per_month: int = Field(default=2_000_000, ge=0)
    server_tokens_per_day: int = Field(default=1_000_000, ge=0)
    server_tokens_per_month: int = Field(default=10_000_000, ge=0)
    user_images_per_day: int = Field(default=10, ge=0)
    server_images_per_day: int = Field(default=50, ge=0)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("openai_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValueError("must be a URL such as http://localhost:11434/v1")
        return value.rstrip("/")

    @field_validator("discord_api_base")
    @classmethod
    def _discord_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValueError("must be a URL such as http://localhost:3001/api/v10")
        return value.rstrip("/")

    @field_validator("embed_dimensions", "dev_guild_id", "embed_max_tokens", "chunk_tokens", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("watch_channel_ids", "allowed_guild_ids")
    @classmethod
    def _id_list(cls, value: str) -> str:
        for part in _split_ids(value):
            if not part.isdigit():
                raise ValueError("must be a comma-separated list of numeric ids")
        return value

    @property
    def uses_default_provider(self) -> bool:
        """True when talking to OpenAI itself rather than a compatible server."""
        return self.openai_base_url is None or urlparse(self.openai_base_url).hostname == "api.openai.com"

    @property
    def database_path(self) -> Path:
        """The one SQLite file."""
        return self.data_dir / "teambot.sqlite3"

    @property
    def index_dir(self) -> Path:
        """Where the document index lives."""
        return self.data_dir / "index"

    @property
    def max_upload_bytes(self) -> int:
        """The upload size limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def watch_channels(self) -> frozenset[int]:
        """Channels where posted files are indexed."""
        return frozenset(int(p) for p in _split_ids(self.watch_channel_ids))

    @property
    def allowed_guilds(self) -> frozenset[int]:
        """Servers the bot may stay in; empty means all."""
        return frozenset(int(p) for p in _split_ids(self.allowed_guild_ids))

    def api_key_value(self) -> str:
        """The key to send; local servers that need none get a placeholder."""
        return self.openai_api_key.get_secret_value() if self.openai_api_key else "not-needed"


def _split_ids(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def load_settings(*, require_discord: bool = True, env_file: str | Path | None = ".env") -> Settings:
    """Read and check the settings; raise ConfigError with one line naming the variable."""
    try:
        settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "a setting"
        raise ConfigError(f"{name} is not valid: {err['msg']}; {_WHERE}.") from None
    if require_discord and not settings.discord_token:
        raise ConfigError(f"DISCORD_TOKEN is missing: {_WHERE}.")
    if settings.uses_default_provider and not settings.openai_api_key:
        raise ConfigError(
            f"OPENAI_API_KEY is missing: {_WHERE} (or set OPENAI_BASE_URL to a server that needs no key)."
        )
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"DATA_DIR ({settings.data_dir}) cannot be created: {exc.strerror}.") from None
    return settings
