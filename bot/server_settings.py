"""Per-server settings: the keys, their validation, defaults from the environment and a cached lookup."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config import Settings
from bot.errors import UserError
from bot.i18n import Msg
from bot.permissions import FEATURES
from bot.store import SettingChange, Store

MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}")
ON = frozenset({"on", "true", "yes", "1", "enable", "enabled"})
OFF = frozenset({"off", "false", "no", "0", "disable", "disabled"})
DEFAULT_WORDS = frozenset({"default", "reset"})
UNLIMITED_WORDS = frozenset({"unlimited", "none", "off", "no limit"})
EVERYONE_WORDS = frozenset({"everyone", "@everyone", "all", "anyone"})
NO_CHANNEL_WORDS = frozenset({"none", "off", "no"})
LANGUAGES = {"auto": "auto", "en": "en", "english": "en", "ja": "ja", "japanese": "ja", "日本語": "ja"}
LANGUAGE_NAMES = {"auto": "auto (each person's Discord language)", "en": "English", "ja": "Japanese"}
MAX_LIMIT = 10**12
ROLE_FORMS = "@Role, names or ids, separated by commas"
_MAX_CACHED_CHANNELS = 100_000
_NUMBER_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([km]?)")


@dataclass(frozen=True, slots=True)
class SettingKey:
    """One setting: its name, what kind of value it takes, what it does, and its environment default."""

    name: str
    kind: str  # model, switch, channel, roles, limit, language
    help: str
    env: str | None = None


LIMIT_KEYS = (
    "user_requests_per_minute",
    "server_requests_per_minute",
    "user_tokens_per_day",
    "user_tokens_per_month",
    "server_tokens_per_day",
    "server_tokens_per_month",
    "user_images_per_day",
    "server_images_per_day",
)
KEYS: dict[str, SettingKey] = {
    k.name: k
    for k in (
        SettingKey("chat_model", "model", "model for chat, /ask and code help", "chat_model"),
        SettingKey("image_model", "model", "model for /imagine and /image edit", "image_model"),
        SettingKey("docs_in_chat", "switch", "chat draws on the server's documents", "docs_in_chat"),
        SettingKey("upload_channel", "channel", "channel whose posted files are indexed"),
        *(SettingKey(f"{f}_roles", "roles", f"who may use {f} (everyone or roles)") for f in FEATURES),
        SettingKey("moderation", "switch", "check messages with the provider's moderation", "moderation"),
        SettingKey("moderation_alert_channel", "channel", "channel told when moderation flags a message"),
        SettingKey("reply_language", "language", "the bot's own language by default", "reply_language"),
        *(SettingKey(name, "limit", name.replace("_", " "), name) for name in LIMIT_KEYS),
    )
}


@dataclass(frozen=True, slots=True)
class GuildFacts:
    """What validation needs to know about a server: its text channels and roles, by id."""

    channels: Mapping[int, str] = field(default_factory=dict)
    roles: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GuildConfig:
    """A server's effective settings: its own values over the environment's defaults."""

    values: Mapping[str, str]
    overridden: frozenset[str] = frozenset()

    @property
    def chat_model(self) -> str:
        """The chat model."""
        return self.values["chat_model"]

    @property
    def image_model(self) -> str:
        """The image model."""
        return self.values["image_model"]

    @property
    def docs_in_chat(self) -> bool:
        """Whether chat draws on documents unless a channel says otherwise."""
        return self.values["docs_in_chat"] == "on"

    @property
    def moderation(self) -> bool:
        """Whether the moderation switch is on."""
        return self.values["moderation"] == "on"

    @property
    def reply_language(self) -> str:
        """auto, en or ja."""
        return self.values["reply_language"]

    @property
    def upload_channel(self) -> int | None:
        """The watched upload channel, if any."""
        value = self.values["upload_channel"]
        return int(value) if value else None

    @property
    def moderation_alert_channel(self) -> int | None:
        """Where moderators hear about flagged messages, if anywhere."""
        value = self.values["moderation_alert_channel"]
        return int(value) if value else None

    def roles(self, feature: str) -> frozenset[int]:
        """Role ids that may use a feature (empty: everyone)."""
        value = self.values.get(f"{feature}_roles", "")
        return frozenset(int(r) for r in value.split(",") if r)

    def limit(self, name: str) -> int:
        """A limit by key (0: no limit)."""
        return int(self.values[name])


def defaults(settings: Settings) -> dict[str, str]:
    """Every key's value from the environment, in stored form."""
    out: dict[str, str] = {}
    for key in KEYS.values():
        raw = getattr(settings, key.env) if key.env else None
        if key.kind == "switch":
            out[key.name] = "on" if raw else "off"
        elif raw is None:
            out[key.name] = ""
        else:
            out[key.name] = str(raw)
    return out


def key_named(name: str) -> SettingKey:
    """The setting called `name`, or a refusal that lists the settings."""
    key = KEYS.get(name.strip().lower())
    if key is None:
        raise UserError(
            "There is no setting called `{name}`. Settings: {keys}.",
            kind="bad_setting",
            params={"name": name.strip()[:50], "keys": ", ".join(KEYS)},
        )
    return key


def parse_value(key: SettingKey, raw: str, facts: GuildFacts) -> str:
    """Check a value typed for a setting and return its stored form; UserError says what is expected."""
    text = raw.strip()
    lowered = text.lower()
    if key.kind == "model":
        if not MODEL_RE.fullmatch(text):
            raise _bad(key, "must be a model name such as gpt-4o-mini (letters, digits and . - _ : / only)")
        return text
    if key.kind == "switch":
        if lowered in ON or lowered in OFF:
            return "on" if lowered in ON else "off"
        raise _bad(key, "must be `on` or `off`")
    if key.kind == "language":
        if lowered not in LANGUAGES:
            raise _bad(key, "must be `auto`, `en` (English) or `ja` (Japanese)")
        return LANGUAGES[lowered]
    if key.kind == "limit":
        return _parse_limit(key, lowered)
    if key.kind == "channel":
        return _parse_channel(key, text, facts)
    return _parse_roles(key, text, facts)


def _bad(key: SettingKey, expected: str) -> UserError:
    return UserError(
        "`{key}` {expected}.", kind="bad_setting", params={"key": key.name, "expected": Msg(expected)}
    )


def _parse_limit(key: SettingKey, text: str) -> str:
    if text in UNLIMITED_WORDS:
        return "0"
    found = _NUMBER_RE.fullmatch(text.replace(",", "").replace("_", ""))
    number = float(found[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[found[2]] if found else 0
    if not found or number < 1 or number > MAX_LIMIT or number != int(number):
        raise _bad(
            key,
            Msg(
                "must be a whole number of at least 1 (such as 200000 or 200k), or `unlimited`. "
                "To keep people from {what} at all, limit who may use it with the `_roles` settings",
                what=Msg(_what(key)),
            ),
        )
    return str(int(number))


def _what(key: SettingKey) -> str:
    return "making images" if "images" in key.name else "using the bot"


def _parse_channel(key: SettingKey, text: str, facts: GuildFacts) -> str:
    if text.lower() in NO_CHANNEL_WORDS:
        return ""
    wanted = text.removeprefix("<#").removesuffix(">").lstrip("#")
    if wanted.isdigit() and int(wanted) in facts.channels:
        return wanted
    by_name = [cid for cid, name in facts.channels.items() if name.lower() == wanted.lower()]
    if len(by_name) == 1:
        return str(by_name[0])
    raise _bad(key, "must be a text channel of this server (#channel or its id), or `none`")


def _parse_roles(key: SettingKey, text: str, facts: GuildFacts) -> str:
    if text.lower() in EVERYONE_WORDS:
        return ""
    found: list[int] = [int(m) for m in re.findall(r"<@&(\d+)>", text)]
    rest = re.sub(r"<@&\d+>", ",", text)
    by_name = {name.lower(): rid for rid, name in facts.roles.items()}
    for part in (p.strip().lstrip("@").strip() for p in rest.split(",")):
        if not part:
            continue
        rid = int(part) if part.isdigit() and int(part) in facts.roles else by_name.get(part.lower())
        if rid is None:
            raise _bad(
                key,
                f"must be `everyone` or roles of this server ({ROLE_FORMS}): there is no role "
                f"`{part[:50]}` here",
            )
        found.append(rid)
    if not found or any(r not in facts.roles for r in found):
        raise _bad(key, Msg("must be `everyone` or roles of this server ({forms})", forms=Msg(ROLE_FORMS)))
    return ",".join(str(r) for r in sorted(set(found)))


def shown(key: SettingKey, value: str, facts: GuildFacts) -> str:
    """A stored value as people read it."""
    if key.kind == "limit":
        return "unlimited" if value == "0" else f"{int(value):,}"
    if key.kind == "channel":
        return f"<#{value}>" if value else "none"
    if key.kind == "roles":
        if not value:
            return "everyone"
        return ", ".join(f"@{facts.roles.get(int(r), 'deleted role')}" for r in value.split(","))
    if key.kind == "language":
        return LANGUAGE_NAMES.get(value, value)
    return f"`{value}`" if key.kind == "model" else value


@dataclass(frozen=True, slots=True)
class DocsSwitch:
    """Whether chat in a channel draws on its documents, and which setting decided it."""

    enabled: bool
    decided_by: str  # channel, parent (a thread's channel), server, default (DMs: DOCS_IN_CHAT)


def docs_switch(own: bool | None, parent: bool | None, server: bool, *, in_server: bool = True) -> DocsSwitch:
    """The effective docs-in-chat switch: the channel's own, else its parent channel's, else the server's."""
    if own is not None:
        return DocsSwitch(own, "channel")
    if parent is not None:
        return DocsSwitch(parent, "parent")
    return DocsSwitch(server, "server" if in_server else "default")


@dataclass(frozen=True, slots=True)
class Change:
    """The result of /settings set: the key and its value before and after, as people read them."""

    key: str
    before: str
    after: str
    is_default: bool


class ServerSettings:
    """Settings per server from the store over the environment's defaults, cached until changed."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._cache: dict[int, GuildConfig] = {}  # read on every request; this class is the only writer
        # Channels' own docs-in-chat switches, read on every chat turn; this class is their only writer.
        self._channel_docs: dict[int, bool | None] = {}

    @property
    def defaults(self) -> dict[str, str]:
        """Every key's value from the environment."""
        return defaults(self.settings)

    def fixed_language(self, guild_id: int | None) -> str:
        """The bot's own language where a server (or, in DMs and for servers not read yet, REPLY_LANGUAGE)
        fixed one: en or ja; auto when readers get their own. Sync, from the cache config() fills."""
        config = self._cache.get(guild_id) if guild_id is not None else None
        # Read on every message: the environment's value directly, not all the defaults rebuilt.
        return config.values["reply_language"] if config is not None else self.settings.reply_language

    async def config(self, guild_id: int | None) -> GuildConfig:
        """The effective settings of a server (DMs: the environment's)."""
        if guild_id is None:
            return GuildConfig(self.defaults)
        config = self._cache.get(guild_id)
        if config is None:
            own = {k: v for k, v in (await self.store.guild_settings(guild_id)).items() if k in KEYS}
            config = self._cache[guild_id] = GuildConfig({**self.defaults, **own}, frozenset(own))
        return config

    async def chat_model(self, guild_id: int | None) -> str:
        """The chat model a server uses now."""
        return (await self.config(guild_id)).chat_model

    async def image_model(self, guild_id: int | None) -> str:
        """The image model a server uses now."""
        return (await self.config(guild_id)).image_model

    async def set(
        self, guild_id: int, name: str, raw: str, facts: GuildFacts, *, user_id: int, user_name: str
    ) -> Change:
        """Validate and store one setting (`default` resets it); logged, and in effect at once."""
        key = key_named(name)
        before = (await self.config(guild_id)).values[key.name]
        value = None if raw.strip().lower() in DEFAULT_WORDS else parse_value(key, raw, facts)
        try:
            await self.store.change_guild_setting(
                guild_id, key.name, value, user_id=user_id, user_name=user_name
            )
        finally:
            self._cache.pop(guild_id, None)
        await self.config(guild_id)  # cached again at once: the fixed language is read without awaiting
        after = self.defaults[key.name] if value is None else value
        return Change(key.name, shown(key, before, facts), shown(key, after, facts), value is None)

    async def docs_in_chat(
        self, channel_id: int, guild_id: int | None, parent_id: int | None = None
    ) -> DocsSwitch:
        """Whether chat in a channel (a thread: also its parent's setting) draws on the documents."""
        own = await self._channel_switch(channel_id)
        parent = None
        if own is None and parent_id is not None:
            parent = await self._channel_switch(parent_id)
        server = (await self.config(guild_id)).docs_in_chat
        return docs_switch(own, parent, server, in_server=guild_id is not None)

    async def set_channel_docs_in_chat(
        self, channel_id: int, guild_id: int | None, enabled: bool | None, parent_id: int | None = None
    ) -> DocsSwitch:
        """Set a channel's own docs-in-chat switch (None: follow the server) and return what now applies."""
        try:
            await self.store.set_docs_in_chat(channel_id, guild_id, enabled)
        finally:
            self._channel_docs.pop(channel_id, None)
        return await self.docs_in_chat(channel_id, guild_id, parent_id)

    async def _channel_switch(self, channel_id: int) -> bool | None:
        if channel_id not in self._channel_docs:
            if len(self._channel_docs) >= _MAX_CACHED_CHANNELS:
                self._channel_docs.clear()
            self._channel_docs[channel_id] = (await self.store.channel_state(channel_id)).docs_in_chat
        return self._channel_docs[channel_id]

    async def history(self, guild_id: int, limit: int = 5) -> list[SettingChange]:
        """The latest changes on a server, newest first."""
        return await self.store.settings_log(guild_id, limit)


class ServerModerationPolicy:
    """The moderation switch and alert channel of each server, as `bot.moderation.Moderator` asks for them."""

    def __init__(self, server: ServerSettings) -> None:
        self.server = server

    async def enabled(self, guild_id: int | None) -> bool:
        """Whether moderation is on here (DMs: MODERATION)."""
        return (await self.server.config(guild_id)).moderation

    async def alert_channel(self, guild_id: int | None) -> int | None:
        """The server's moderation alert channel, if set."""
        return (await self.server.config(guild_id)).moderation_alert_channel
